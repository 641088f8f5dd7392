import { beforeAll, describe, expect, test } from 'bun:test';
import { createCgroupReader } from '../../packages/platform/src/clients/cgroup';
import type { DockerClient } from '../../packages/platform/src/clients/docker';
import { StatsCollector } from '../../packages/platform/src/observe/stats-collector';
import { createPlatformParts, docker, onTestEngine, TEST_IMAGE } from '../support/docker';

const { available, prefix } = await onTestEngine('stats');
const busy = `${prefix}-busy`;
const idle = `${prefix}-idle`;
const mem = `${prefix}-mem`;

const parts = createPlatformParts();
const collector = (
  client: DockerClient = parts.docker,
  intervalMs = 60_000,
  fastPath = true,
  streams = false,
) =>
  new StatsCollector({
    docker: client,
    metrics: parts.metrics,
    log: parts.log,
    intervalMs,
    streams,
    ...(fastPath ? { cgroup: createCgroupReader() } : {}),
  });
// Both ways of reading stats must agree with `docker stats`.
const paths = [
  { path: 'cgroup files', fastPath: true },
  { path: 'engine API', fastPath: false },
];

/** `docker stats --no-stream` for one container: CPU % and memory usage/limit in bytes. */
async function dockerStats(name: string) {
  const proc = Bun.spawn(['docker', 'stats', '--no-stream', '--format', '{{json .}}', name], {
    stdout: 'pipe',
  });
  const row = JSON.parse(await new Response(proc.stdout).text());
  const bytes = (s: string) => {
    const m = s.trim().match(/^([\d.]+)\s*([KMGT]?i?B)$/);
    if (!m) throw new Error(`cannot parse ${s}`);
    const unit = {
      B: 1,
      KiB: 1024,
      MiB: 1024 ** 2,
      GiB: 1024 ** 3,
      TiB: 1024 ** 4,
      kB: 1e3,
      MB: 1e6,
      GB: 1e9,
    }[m[2] as string];
    return Number(m[1]) * (unit ?? 1);
  };
  const [usage = '', limit = ''] = String(row.MemUsage).split('/');
  return { cpu: Number.parseFloat(row.CPUPerc), memory: bytes(usage), limit: bytes(limit) };
}

const metricValue = async (name: string, handle: string) => {
  const line = (await parts.registry.metrics())
    .split('\n')
    .find((l) => l.startsWith(`${name}{handle="${handle}"}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
};

describe.skipIf(!available)('StatsCollector on a real Docker engine', () => {
  beforeAll(async () => {
    await parts.containers.create({
      handle: busy,
      command: ['sh', '-c', 'while :; do :; done'],
      cpus: 1,
      health: 'none',
    });
    await parts.containers.create({ handle: idle, command: ['sleep', '3600'], memoryMb: 64, health: 'none' });
    await parts.containers.create({
      handle: mem,
      command: ['sh', '-c', 'dd if=/dev/zero of=/dev/shm/fill bs=1M count=24 2>/dev/null; sleep 3600'],
      memoryMb: 96,
      health: 'none',
    });
    await docker
      .createContainer({ name: `${prefix}-unmanaged`, Image: TEST_IMAGE, Cmd: ['sleep', '3600'] })
      .then((c) => c.start());
  });

  test('collectOnce returns stats for every running managed container and none for unmanaged ones', async () => {
    const stats = await collector().collectOnce();
    for (const h of [busy, idle, mem]) expect(stats.has(h)).toBe(true);
    expect([...stats.keys()].some((h) => h.includes('unmanaged'))).toBe(false);
  });

  test.each(paths)(
    'CPU % ($path): a busy loop is within 20 points of docker stats, idle near 0',
    async ({ fastPath }) => {
      const c = collector(parts.docker, 60_000, fastPath);
      await c.collectOnce();
      await Bun.sleep(1500);
      const stats = await c.collectOnce();
      const reference = await dockerStats(`beacon-${busy}`);
      const busyPct = stats.get(busy)?.cpuPercent ?? -1;
      expect(Math.abs(busyPct - reference.cpu)).toBeLessThan(20);
      expect(busyPct).toBeGreaterThan(60);
      expect(stats.get(idle)?.cpuPercent ?? -1).toBeLessThan(3);
      expect(await metricValue('platform_container_cpu_percent', busy)).toBeCloseTo(busyPct, 6);
      await c.stop();
    },
  );

  test('engine API with streams: once the engine streams a container, a cycle reads its sample (no one-shot call)', async () => {
    let oneShots = 0;
    const counting: DockerClient = {
      ...parts.docker,
      stats: (id, signal) => {
        oneShots++;
        return parts.docker.stats(id, signal);
      },
    };
    const c = collector(counting, 60_000, false, true);
    await c.collectOnce();
    const first = oneShots;
    expect(first).toBeGreaterThanOrEqual(3);
    await Bun.sleep(2500); // the engine's streams have sent their first samples
    const stats = await c.collectOnce();
    expect(oneShots).toBe(first);
    expect(stats.get(busy)?.cpuPercent ?? -1).toBeGreaterThan(60);
    expect(stats.get(mem)?.memoryLimitBytes).toBe(96 * 1024 * 1024);
    // Stopped: the streams are closed, so a cycle after it asks the engine one-shot again.
    await c.stop();
    await c.collectOnce();
    expect(oneShots).toBeGreaterThan(first);
    await c.stop();
  });

  test.each(paths)(
    'memory usage and limit ($path) agree with docker stats within 10%',
    async ({ fastPath }) => {
      const stats = await collector(parts.docker, 60_000, fastPath).collectOnce();
      const reference = await dockerStats(`beacon-${mem}`);
      const ours = stats.get(mem);
      expect(ours?.memoryLimitBytes).toBe(96 * 1024 * 1024);
      expect(Math.abs((ours?.memoryLimitBytes ?? 0) - reference.limit) / reference.limit).toBeLessThan(0.1);
      expect(ours?.memoryBytes ?? 0).toBeGreaterThan(20 * 1024 * 1024);
      expect(Math.abs((ours?.memoryBytes ?? 0) - reference.memory) / reference.memory).toBeLessThan(0.1);
    },
  );

  test('the cgroup reader reads a running container on this host, and refuses a pid of another one', async () => {
    const info = await docker.getContainer(`beacon-${busy}`).inspect();
    const stats = await createCgroupReader().read(info.Id, info.State.Pid);
    expect(stats?.cpu_stats?.cpu_usage?.total_usage ?? 0).toBeGreaterThan(0);
    expect(stats?.memory_stats?.limit).toBe(info.HostConfig.Memory);
    expect(Object.keys(stats?.networks ?? {})).toContain('eth0');
    expect(await createCgroupReader().read('0'.repeat(64), info.State.Pid)).toBeUndefined();
  });

  test('a container removed between list and stats is skipped without error', async () => {
    const victim = `${prefix}-victim`;
    await parts.containers.create({ handle: victim, command: ['sleep', '3600'], health: 'none' });
    const racing: DockerClient = {
      ...parts.docker,
      list: async () => {
        const list = await parts.docker.list();
        await docker.getContainer(`beacon-${victim}`).remove({ force: true });
        return list;
      },
    };
    const stats = await collector(racing).collectOnce();
    expect(stats.has(victim)).toBe(false);
    expect(stats.has(idle)).toBe(true);
  });

  test('gauges move on each poll and a destroyed container loses every series', async () => {
    const c = collector();
    await c.collectOnce();
    const cpu1 = await metricValue('platform_container_cpu_seconds_total', busy);
    await Bun.sleep(500);
    await c.collectOnce();
    const cpu2 = await metricValue('platform_container_cpu_seconds_total', busy);
    expect(cpu2 ?? 0).toBeGreaterThan(cpu1 ?? Number.POSITIVE_INFINITY);
    expect(await metricValue('platform_container_up', idle)).toBe(1);
    expect(await metricValue('platform_container_memory_limit_bytes', idle)).toBe(64 * 1024 * 1024);
    expect(await metricValue('platform_container_pids', idle)).toBeGreaterThanOrEqual(1);
    expect(await parts.registry.metrics()).toMatch(/platform_containers\{state="running"\} [1-9]/);

    await parts.containers.destroy(idle);
    await c.collectOnce();
    expect((await parts.registry.metrics()).includes(`handle="${idle}"`)).toBe(false);
  });

  test('a stopped container reports up 0 and keeps no resource series', async () => {
    const c = collector();
    await c.collectOnce();
    await parts.containers.stop(mem);
    await c.collectOnce();
    expect(await metricValue('platform_container_up', mem)).toBe(0);
    expect(await metricValue('platform_container_memory_bytes', mem)).toBeUndefined();
    expect(await parts.registry.metrics()).toMatch(/platform_containers\{state="stopped"\} [1-9]/);
  });

  test('start and stop manage the interval; each cycle is timed', async () => {
    const c = collector(parts.docker, 150);
    const cycles = async () => {
      const m = (await parts.registry.metrics()).match(/platform_stats_collect_duration_seconds_count (\d+)/);
      return Number(m?.[1] ?? 0);
    };
    const before = await cycles();
    c.start();
    expect(c.running).toBe(true);
    await Bun.sleep(1200);
    await c.stop();
    expect(c.running).toBe(false);
    const during = await cycles();
    expect(during - before).toBeGreaterThanOrEqual(2);
    await Bun.sleep(400);
    expect(await cycles()).toBe(during);
  });

  test('the loop survives a Docker failure', async () => {
    const failing: DockerClient = { ...parts.docker, list: () => Promise.reject(new Error('engine gone')) };
    const c = collector(failing, 50);
    c.start();
    await Bun.sleep(200);
    expect(c.running).toBe(true);
    await c.stop();
  });
});
