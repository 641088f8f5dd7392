/**
 * 100 running test containers: one StatsCollector.collectOnce (wall and CPU time of this process) on the
 * cgroup files and on the engine API alone (streamed samples; one-shot calls as the baseline, with what the
 * streams cost the engine), against `docker stats --no-stream` on the same containers and against the naive
 * loop (sequential, non-one-shot stats) measured on 5 and extrapolated. Needs a Docker engine.
 */
import { mapWithConcurrency } from '@beacon/core';
import { type CgroupReader, createCgroupReader } from '../packages/platform/src/clients/cgroup';
import { StatsCollector } from '../packages/platform/src/observe/stats-collector';
import {
  createPlatformParts,
  docker,
  ensureTestImage,
  handlePrefix,
  removeContainers,
} from '../tests/support/docker';
import { cpuMicros } from './support';

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
    const collector = (cgroup?: CgroupReader, concurrency?: number, streams = false) =>
      new StatsCollector({
        docker: parts.docker,
        metrics: parts.metrics,
        log: parts.log,
        intervalMs: 60_000,
        streams,
        ...(cgroup ? { cgroup } : {}),
        ...(concurrency ? { concurrency } : {}),
      });
    const fast = collector(createCgroupReader());
    await fast.collectOnce(); // warm: first CPU samples, and one inspect per container for its pid
    const ours = await timed(() => fast.collectOnce());
    // Engine API only, as shipped: a one-shot call per container, all at once (each answered on the engine's
    // next 1 s tick); the previous default, 32 at a time (ceil(N / 32) ticks).
    // The engine's processes: dockerd, containerd and the shims (which read the cgroups for it).
    const enginePids = (
      await Bun.$`pgrep -x dockerd; pgrep -x containerd; pgrep containerd-shim`.nothrow().text()
    )
      .split('\n')
      .filter(Boolean)
      .map(Number);
    const engineCpu = () => enginePids.reduce((sum, pid) => sum + cpuMicros(pid), 0);
    const api = collector();
    await api.collectOnce();
    const engineBefore = engineCpu();
    const viaApi = await timed(() => api.collectOnce());
    const oneShotEngineMs = (engineCpu() - engineBefore) / 1000;
    const api32 = collector(undefined, 32);
    await api32.collectOnce();
    const viaApi32 = await timed(() => api32.collectOnce());
    // BEACON_STATS_STREAM: the first cycle opens the engine's stats streams (answered one-shot meanwhile);
    // once they have sent their first samples a cycle reads them. What following them costs, over 5 s: this
    // process (parsing) and the engine (sampling each container each second), beside the engine idle.
    const engineIdle = engineCpu();
    await Bun.sleep(5000);
    // µs over 5,000 ms: ms of CPU per second.
    const engineIdleMsPerSecond = (engineCpu() - engineIdle) / 5000;
    const streamed = collector(undefined, undefined, true);
    await streamed.collectOnce();
    await Bun.sleep(2500);
    const viaStreams = await timed(() => streamed.collectOnce());
    const streamCost = await timed(async () => {
      const before = engineCpu();
      await Bun.sleep(5000);
      return (engineCpu() - before) / 5000;
    });
    await streamed.stop();
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
      `collectOnce (engine API only)    ${viaApi.wallMs.toFixed(0)} ms wall, ${viaApi.cpuMs.toFixed(0)} ms CPU, engine ${oneShotEngineMs.toFixed(0)} ms CPU (one-shot calls, all at once)   ratio ${(viaApi.wallMs / ours.wallMs).toFixed(1)}x slower`,
    );
    console.log(
      `  engine API, 32 in flight       ${viaApi32.wallMs.toFixed(0)} ms wall   ratio ${(viaApi32.wallMs / viaApi.wallMs).toFixed(1)}x slower than all at once`,
    );
    console.log(
      `  engine API, streamed samples   ${viaStreams.wallMs.toFixed(0)} ms wall, ${viaStreams.cpuMs.toFixed(0)} ms CPU   ratio ${(viaStreams.wallMs / viaApi.wallMs).toFixed(3)} of one-shot (BEACON_STATS_STREAM=true)`,
    );
    console.log(
      `    following ${names.length} streams costs  this process ${(streamCost.cpuMs / 5).toFixed(0)} ms CPU/s, the engine ${streamCost.result.toFixed(0)} ms CPU/s (idle ${engineIdleMsPerSecond.toFixed(0)} ms/s); one-shot cycles every 15 s: ${(oneShotEngineMs / 15).toFixed(0)} ms/s`,
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
