/**
 * 100 running test containers: one StatsCollector.collectOnce (wall and CPU time of this process),
 * against `docker stats --no-stream` on the same containers and against the naive loop
 * (sequential, non-one-shot stats) measured on 5 and extrapolated. Needs a Docker engine.
 */
import { mapWithConcurrency } from '@beacon/core';
import { type CgroupReader, createCgroupReader } from '../packages/platform/src/clients/cgroup';
import { StatsCollector } from '../packages/platform/src/stats-collector';
import {
  createPlatformParts,
  docker,
  ensureTestImage,
  handlePrefix,
  removeContainers,
} from '../tests/support/docker';

async function timed<T>(fn: () => Promise<T>) {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const result = await fn();
  const used = process.cpuUsage(cpu);
  return { result, wallMs: performance.now() - start, cpuMs: (used.user + used.system) / 1000 };
}

export async function benchStatsCollector(count = 100) {
  await ensureTestImage();
  const prefix = handlePrefix('bench');
  const parts = createPlatformParts();
  try {
    console.log(`\n== stats-collector: starting ${count} containers…`);
    await mapWithConcurrency([...Array(count).keys()], 8, (i) =>
      parts.containers.create({
        handle: `${prefix}-${i}`,
        command: ['sleep', '3600'],
        memoryMb: 32,
        health: 'none',
      }),
    );
    const names = (await parts.docker.list()).filter((c) => c.name.startsWith(`beacon-${prefix}`));
    const collector = (cgroup?: CgroupReader, concurrency?: number) =>
      new StatsCollector({
        docker: parts.docker,
        metrics: parts.metrics,
        log: parts.log,
        intervalMs: 60_000,
        ...(cgroup ? { cgroup } : {}),
        ...(concurrency ? { concurrency } : {}),
      });
    const fast = collector(createCgroupReader());
    await fast.collectOnce(); // warm: first CPU samples, and one inspect per container for its pid
    const ours = await timed(() => fast.collectOnce());
    const api = collector();
    await api.collectOnce();
    const viaApi = await timed(() => api.collectOnce());
    // The previous default: 32 calls in flight, each batch waiting for its own tick of the engine's collector.
    const api32 = collector(undefined, 32);
    await api32.collectOnce();
    const viaApi32 = await timed(() => api32.collectOnce());
    const reference = await timed(async () => {
      const proc = Bun.spawn(['docker', 'stats', '--no-stream', ...names.map((n) => n.id)], {
        stdout: 'pipe',
      });
      await new Response(proc.stdout).text();
      return proc.exited;
    });
    const sample = names.slice(0, 5);
    const naive = await timed(async () => {
      for (const c of sample) await docker.getContainer(c.id).stats({ stream: false });
    });
    const naiveAll = (naive.wallMs / sample.length) * names.length;
    console.log(`containers                       ${names.length} (stats for ${ours.result.size})`);
    console.log(
      `collectOnce (cgroup files)       ${ours.wallMs.toFixed(0)} ms wall, ${ours.cpuMs.toFixed(0)} ms CPU`,
    );
    console.log(
      `collectOnce (engine API only)    ${viaApi.wallMs.toFixed(0)} ms wall, ${viaApi.cpuMs.toFixed(0)} ms CPU   ratio ${(viaApi.wallMs / ours.wallMs).toFixed(1)}x slower`,
    );
    console.log(
      `  engine API, 32 in flight       ${viaApi32.wallMs.toFixed(0)} ms wall   ratio ${(viaApi32.wallMs / viaApi.wallMs).toFixed(1)}x slower than all at once`,
    );
    console.log(
      `docker stats --no-stream         ${reference.wallMs.toFixed(0)} ms wall   ratio ${(reference.wallMs / ours.wallMs).toFixed(1)}x slower; engine API only / docker stats ${(viaApi.wallMs / reference.wallMs).toFixed(2)}`,
    );
    console.log(
      `naive sequential (5 → ${names.length})     ${naiveAll.toFixed(0)} ms wall (extrapolated)   ratio ${(naiveAll / ours.wallMs).toFixed(1)}x slower`,
    );
    console.log(`goal: collectOnce < 3000 ms → ${ours.wallMs < 3000 ? 'met' : 'NOT met'}`);
    console.log(`goal: engine API only < 1500 ms → ${viaApi.wallMs < 1500 ? 'met' : 'NOT met'}`);
  } finally {
    await removeContainers(prefix);
  }
}

if (import.meta.main) await benchStatsCollector();
