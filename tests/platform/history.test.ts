import { describe, expect, test } from 'bun:test';
import { createLogger } from '@beacon/core';
import { openDatabase } from '../../packages/platform/src/db';
import type { SampleRow } from '../../packages/platform/src/db/schema/samples';
import {
  firingNow,
  healthOf,
  poolOfHandle,
  spentOn,
  splitCosts,
} from '../../packages/platform/src/domain/console-rows';
import {
  aggregateMinutes,
  combineMinutes,
  defaultStep,
  toSample,
} from '../../packages/platform/src/domain/history';
import type { ContainerStats } from '../../packages/platform/src/domain/stats';
import { createHistory } from '../../packages/platform/src/observe/history';

const log = createLogger({ service: 'platform', level: 'silent' });
const MINUTE = 60_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 11, 1);

const stats = (over: Partial<ContainerStats> = {}): ContainerStats => ({
  cpuPercent: 50,
  cpuSeconds: 1,
  memoryBytes: 1000,
  memoryLimitBytes: 4000,
  networkRxBytes: 0,
  networkTxBytes: 0,
  pids: 3,
  sample: { totalUsage: 0, systemUsage: 0, onlineCpus: 1 },
  ...over,
});

/** Every 15 s for `ms`: CPU i % 100 (so each minute's four samples are known), memory growing. */
function cycles(handle: string, from: number, ms: number): SampleRow[] {
  const rows: SampleRow[] = [];
  for (let i = 0, at = from; at < from + ms; i++, at += 15_000)
    rows.push({
      handle,
      at,
      cpu: i % 100,
      mem: 1000 + i,
      memLimit: 4000,
      rx: 10,
      tx: i % 2 ? null : 4,
      pids: 1 + (i % 4),
    });
  return rows;
}

describe('history: samples, aggregates and retention (pure)', () => {
  test('a sample carries bytes per second since the previous one; none on the first or across a restart', () => {
    const first = toSample('a', T0, stats({ networkRxBytes: 5000 }), undefined);
    expect(first).toMatchObject({ cpu: 50, mem: 1000, memLimit: 4000, rx: null, tx: null, pids: 3 });
    const next = toSample('a', T0 + 10_000, stats({ networkRxBytes: 15_000, networkTxBytes: 500 }), {
      at: T0,
      rx: 5000,
      tx: 0,
    });
    expect(next.rx).toBe(1000);
    expect(next.tx).toBe(50);
    const restarted = toSample('a', T0 + 20_000, stats({ networkRxBytes: 10 }), {
      at: T0 + 10_000,
      rx: 15_000,
      tx: 500,
    });
    expect(restarted.rx).toBeNull();
    expect(toSample('a', T0, stats({ cpuPercent: undefined }), undefined).cpu).toBeNull();
  });

  test('a day of 15-second samples → 1,440 minutes with the right averages and maxima', () => {
    const rows = [...cycles('a', T0, DAY), ...cycles('b', T0, DAY)];
    const minutes = aggregateMinutes(rows);
    expect(minutes).toHaveLength(2 * 1440);
    const firstA = minutes.find((m) => m.handle === 'a' && m.minute === T0);
    // Samples 0..3 of the day: CPU 0, 1, 2, 3; memory 1000..1003; tx 4, null, 4, null.
    expect(firstA).toEqual({
      handle: 'a',
      minute: T0,
      n: 4,
      cpuAvg: 1.5,
      cpuMax: 3,
      memAvg: 1001.5,
      memMax: 1003,
      memLimit: 4000,
      rxAvg: 10,
      txAvg: 4,
      pidsMax: 4,
    });
    const last = minutes.find((m) => m.handle === 'b' && m.minute === T0 + DAY - MINUTE);
    expect(last?.n).toBe(4);
    expect(last?.memMax).toBe(1000 + 5759);
  });

  test('minutes combine into longer steps weighted by their samples', () => {
    const minutes = aggregateMinutes(cycles('a', T0, 10 * MINUTE));
    const [five, ten] = combineMinutes(minutes, 5 * MINUTE);
    expect(five?.n).toBe(20);
    expect(five?.cpuAvg).toBeCloseTo(9.5, 9); // samples 0..19
    expect(ten?.cpuMax).toBe(39);
    expect(combineMinutes(minutes, MINUTE)).toBe(minutes);
    const partial = combineMinutes(
      [
        { ...(minutes[0] as (typeof minutes)[0]), n: 1, cpuAvg: 100 },
        { ...(minutes[1] as (typeof minutes)[0]), n: 3, cpuAvg: null },
        { ...(minutes[2] as (typeof minutes)[0]), n: 3, cpuAvg: 0 },
      ],
      5 * MINUTE,
    );
    expect(partial[0]?.cpuAvg).toBe(25);
  });

  test('step: raw up to two hours, then whole minutes for at most 720 points', () => {
    expect(defaultStep(T0, T0 + 3_600_000)).toBe('raw');
    expect(defaultStep(T0, T0 + DAY)).toBe(2 * MINUTE);
    expect(defaultStep(T0, T0 + 7 * DAY)).toBe(14 * MINUTE);
  });
});

describe('history store on SQLite', () => {
  const HOUR = 3_600_000;
  const make = (db = openDatabase(':memory:')) => ({
    db,
    history: createHistory({ db, log, rawMs: 24 * HOUR, aggregateMs: 30 * DAY }),
  });
  const record = (
    history: ReturnType<typeof make>['history'],
    handles: string[],
    from: number,
    ms: number,
  ) => {
    for (let at = from, i = 0; at < from + ms; at += 15_000, i++)
      history.record(
        at,
        new Map(handles.map((h) => [h, stats({ cpuPercent: i % 100, networkRxBytes: i * 1500 })])),
      );
  };
  const count = (db: ReturnType<typeof openDatabase>, table: string) =>
    (db.$client.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

  test('minutes are written as they end; pruning keeps 24 h raw and 30 days of minutes', () => {
    const { db, history } = make();
    record(history, ['a', 'b'], T0, 2 * DAY);
    history.closeEnded(T0 + 2 * DAY);
    expect(count(db, 'samples')).toBe(2 * 2 * 5760);
    expect(count(db, 'sample_minutes')).toBe(2 * 2 * 1440);
    history.prune(T0 + 2 * DAY);
    expect(count(db, 'samples')).toBe(2 * 5760);
    expect(count(db, 'sample_minutes')).toBe(2 * 2 * 1440);
    history.prune(T0 + 31 * DAY + MINUTE);
    expect(count(db, 'samples')).toBe(0);
    expect(count(db, 'sample_minutes')).toBe(2 * 1440 - 2);
    // Raw rates: 1,500 bytes per 15 s.
    expect(history.raw('a', T0, T0 + MINUTE)).toEqual([]);
    const [minute] = history.minutes('a', T0 + DAY + 5 * MINUTE, T0 + DAY + 6 * MINUTE, MINUTE);
    expect(minute?.rxAvg).toBe(100);
  });

  test('a restart aggregates the minutes its predecessor had not closed; a deleted container stays queryable', () => {
    // Recent: start() prunes against the clock.
    const t = Math.floor(Date.now() / MINUTE) * MINUTE - 30 * MINUTE;
    const db = openDatabase(':memory:');
    const first = make(db).history;
    record(first, ['gone'], t, 10 * MINUTE);
    expect(count(db, 'sample_minutes')).toBe(9); // the 10th minute is still open
    const second = make(db).history;
    second.start();
    second.stop();
    expect(count(db, 'sample_minutes')).toBe(10);
    expect(second.has('gone')).toBe(true);
    expect(second.has('never')).toBe(false);
    const summary = second.summary(t, t + 10 * MINUTE, t + 10 * MINUTE);
    expect(summary).toEqual([expect.objectContaining({ handle: 'gone', samples: 40, cpuPercentMax: 39 })]);
    expect(summary[0]?.cpuPercentAvg).toBeCloseTo(19.5, 9);
  });
});

describe('the console: health, alerts and cost attribution (pure)', () => {
  const base = { state: 'running', desired: 'running', restarts: 0, lastExit: null, unhealthy: false };
  const exit = (oomKilled: boolean, minutesAgo: number) => ({
    code: 137,
    oomKilled,
    at: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
    reason: oomKilled ? 'oom' : 'exited with code 137',
  });

  test('never "ok" for a container OOM-killed or crashing in the last hour, or one in a crash loop', () => {
    expect(healthOf(base)).toEqual({ label: 'ok', trouble: false });
    expect(healthOf({ ...base, lastExit: exit(true, 5), restarts: 1 }).label).toStartWith('OOM-killed');
    expect(healthOf({ ...base, lastExit: exit(true, 5), restarts: 1 }).trouble).toBe(true);
    expect(healthOf({ ...base, lastExit: exit(false, 5) }).trouble).toBe(true);
    expect(healthOf({ ...base, lastExit: exit(true, 90) })).toEqual({ label: 'ok', trouble: false });
    expect(healthOf({ ...base, state: 'stopped', lastExit: exit(false, 1), restarts: 4 })).toEqual({
      label: 'exited (code 137), crash-looping',
      trouble: true,
    });
    expect(healthOf({ ...base, state: 'stopped', desired: 'stopped' })).toEqual({
      label: 'stopped by operator',
      trouble: false,
    });
    expect(healthOf({ ...base, unhealthy: true }).label).toBe('unhealthy');
  });

  test('alerts firing now: the newest word per alert', () => {
    const alert = (alertname: string, status: string, fingerprint?: string) => ({
      alertname,
      status,
      labels: { alertname },
      ...(fingerprint ? { fingerprint } : {}),
    });
    const newestFirst = [
      alert('ContainerDown', 'resolved', 'f1'),
      alert('ContainerOOMKilled', 'firing'),
      alert('ContainerDown', 'firing', 'f1'),
      alert('ContainerDown', 'firing', 'f2'),
      alert('ContainerOOMKilled', 'firing'),
    ];
    expect(firingNow(newestFirst).map((a) => [a.alertname, a.fingerprint])).toEqual([
      ['ContainerOOMKilled', undefined],
      ['ContainerDown', 'f2'],
    ]);
  });

  test("a pooled container's cost goes to its tenants; others per container per day", () => {
    expect(poolOfHandle('warm-0123456789ab', ['warm'])).toBe('warm');
    expect(poolOfHandle('warm-up', ['warm'])).toBeUndefined();
    const split = splitCosts(
      [
        { handle: 'alice', user: 'alice', day: '2026-12-01', costUsd: 1 },
        { handle: 'alice', user: 'alice', day: '2026-12-02', costUsd: 2 },
        { handle: 'warm-0123456789ab', user: 'tenant-1', day: '2026-12-02', costUsd: 0.5 },
        { handle: 'warm-ba9876543210', user: 'tenant-1', day: '2026-12-02', costUsd: 0.25 },
        { handle: 'warm-0123456789ab', user: 'tenant-2', day: '2026-12-02', costUsd: 4 },
        { handle: null, user: 'script', day: '2026-12-02', costUsd: 9 },
      ],
      ['warm'],
    );
    // The day's total is everything the proxy recorded: a user's own key (no handle) too.
    expect(
      spentOn(
        [
          { handle: 'alice', user: 'alice', day: '2026-12-02', costUsd: 2 },
          { handle: null, user: 'script', day: '2026-12-02', costUsd: 9 },
          { handle: 'gone-box', user: 'bob', day: '2026-12-02', costUsd: 0.5 },
          { handle: 'alice', user: 'alice', day: '2026-12-01', costUsd: 1 },
        ],
        '2026-12-02',
      ),
    ).toBe(11.5);
    expect(split.containers).toEqual([
      { handle: 'alice', days: { '2026-12-01': 1, '2026-12-02': 2 }, totalUsd: 3 },
    ]);
    expect(split.tenants).toEqual([
      { pool: 'warm', tenant: 'tenant-1', days: { '2026-12-02': 0.75 }, totalUsd: 0.75 },
      { pool: 'warm', tenant: 'tenant-2', days: { '2026-12-02': 4 }, totalUsd: 4 },
    ]);
    expect(split.unattributed).toEqual({ days: { '2026-12-02': 9 }, totalUsd: 9 });
  });
});
