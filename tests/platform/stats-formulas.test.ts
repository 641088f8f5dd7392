import { describe, expect, test } from 'bun:test';
import {
  cpuPercent,
  cpuSample,
  type DockerStatsJson,
  memoryUsage,
  networkTotals,
  toContainerStats,
} from '../../packages/platform/src/domain/stats';
import v1 from './fixtures/stats-cgroup-v1.json';
import v2 from './fixtures/stats-cgroup-v2.json';

// v1 was recorded from this machine's engine (cgroup v1) with a busy loop and an 8 MiB file in /tmp;
// v2 follows the engine's cgroup v2 shape (no total_* keys).
const previous = (s: { precpu_stats: DockerStatsJson['cpu_stats'] }) =>
  cpuSample({ cpu_stats: s.precpu_stats });

describe('stats formulas', () => {
  test('CPU %: docker formula, percent of one core (v1: a busy loop ≈ 100)', () => {
    const pct = cpuPercent(previous(v1), cpuSample(v1));
    expect(pct).toBeCloseTo(((3087138267 - 2088406206) / (3773420000000 - 3771420000000)) * 2 * 100, 6);
    expect(pct).toBeGreaterThan(95);
    expect(pct).toBeLessThan(101);
  });

  test('CPU % on cgroup v2: 0.5 s of CPU over 4 s of system time on 4 CPUs = 50', () => {
    expect(cpuPercent(previous(v2), cpuSample(v2))).toBeCloseTo(50, 6);
  });

  test('no previous sample, or time that did not move, gives no CPU % rather than a wrong one', () => {
    expect(cpuPercent(undefined, cpuSample(v2))).toBeUndefined();
    expect(cpuPercent(cpuSample(v2), cpuSample(v2))).toBeUndefined();
    expect(toContainerStats(v2, undefined).cpuPercent).toBeUndefined();
  });

  test('memory = usage − inactive_file: v1 total_inactive_file, v2 inactive_file', () => {
    expect(memoryUsage(v1)).toBe(9162752 - 8388608);
    expect(memoryUsage(v2)).toBe(52428800 - 16777216);
    expect(memoryUsage({ memory_stats: { usage: 100, stats: { inactive_file: 500 } } })).toBe(100);
  });

  test('network is summed over interfaces; limit, pids and cpu seconds are read', () => {
    const eth0 = v1.networks.eth0;
    expect(networkTotals(v1)).toEqual({ rx: eth0.rx_bytes + 1000, tx: eth0.tx_bytes + 2000 });
    const s = toContainerStats(v2, previous(v2));
    expect(s).toMatchObject({
      memoryLimitBytes: 134217728,
      pids: 7,
      networkRxBytes: 4096,
      networkTxBytes: 1024,
    });
    expect(s.cpuSeconds).toBeCloseTo(5.25, 9);
    expect(s.cpuPercent).toBeCloseTo(50, 6);
  });
});
