import { readFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import type { DockerStatsJson } from '../domain/stats';

/**
 * Reads a container's stats straight from its cgroup and /proc, in the shape of Docker's stats JSON,
 * so the same formulas apply. Much cheaper than asking the engine (which reads the same files and
 * serialises JSON per call). Works when the platform runs on the Docker host; anything unreadable
 * returns undefined and the caller falls back to the engine's API.
 */
export interface CgroupReader {
  read(containerId: string, pid: number): Promise<DockerStatsJson | undefined>;
}

const NS_PER_TICK = 1e9 / 100; // USER_HZ is 100 on Linux
const CPU_COUNT = cpus().length;

const text = (path: string) => readFile(path, 'utf8');
const num = async (path: string) => Number((await text(path)).trim());

function parseKeyValues(content: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of content.split('\n')) {
    const [key, value] = line.split(' ');
    if (key && value !== undefined) out[key] = Number(value);
  }
  return out;
}

/** Host CPU time in ns the way Docker counts it: the first seven fields of /proc/stat's cpu line. */
async function systemCpuUsage(procRoot: string): Promise<number> {
  const line = (await text(`${procRoot}/stat`)).split('\n', 1)[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1, 8).map(Number);
  return fields.reduce((a, b) => a + b, 0) * NS_PER_TICK;
}

async function networks(procRoot: string, pid: number): Promise<DockerStatsJson['networks']> {
  const out: NonNullable<DockerStatsJson['networks']> = {};
  for (const line of (await text(`${procRoot}/${pid}/net/dev`)).split('\n').slice(2)) {
    const [name, rest] = line.split(':');
    const iface = name?.trim();
    if (!iface || iface === 'lo' || !rest) continue;
    const f = rest.trim().split(/\s+/).map(Number);
    out[iface] = { rx_bytes: f[0] ?? 0, tx_bytes: f[8] ?? 0 };
  }
  return out;
}

export function createCgroupReader(cgroupRoot = '/sys/fs/cgroup', procRoot = '/proc'): CgroupReader {
  return {
    async read(containerId, pid) {
      try {
        const membership = await text(`${procRoot}/${pid}/cgroup`);
        // A recycled pid belongs to someone else: only trust it while it is in this container's cgroup.
        if (!membership.includes(containerId)) return undefined;
        const lines = membership
          .trim()
          .split('\n')
          .map((l) => l.split(':'));
        const v1 = (controller: string) => lines.find((l) => l[1]?.split(',').includes(controller))?.[2];
        const [system_cpu_usage, nets] = await Promise.all([
          systemCpuUsage(procRoot),
          networks(procRoot, pid),
        ]);
        const memoryPath = v1('memory');
        if (memoryPath) {
          const cpuPath = v1('cpuacct') ?? memoryPath;
          const [usage, limit, memStat, cpuUsage, pids] = await Promise.all([
            num(`${cgroupRoot}/memory${memoryPath}/memory.usage_in_bytes`),
            num(`${cgroupRoot}/memory${memoryPath}/memory.limit_in_bytes`),
            text(`${cgroupRoot}/memory${memoryPath}/memory.stat`),
            num(`${cgroupRoot}/cpuacct${cpuPath}/cpuacct.usage`),
            num(`${cgroupRoot}/pids${v1('pids') ?? memoryPath}/pids.current`).catch(() => 0),
          ]);
          return {
            cpu_stats: { cpu_usage: { total_usage: cpuUsage }, system_cpu_usage, online_cpus: CPU_COUNT },
            memory_stats: { usage, limit: Math.min(limit, totalmem()), stats: parseKeyValues(memStat) },
            networks: nets,
            pids_stats: { current: pids },
          };
        }
        const unified = lines.find((l) => l[0] === '0')?.[2];
        if (!unified) return undefined;
        const dir = `${cgroupRoot}${unified}`;
        const [cpuStat, usage, max, memStat, pids] = await Promise.all([
          text(`${dir}/cpu.stat`),
          num(`${dir}/memory.current`),
          text(`${dir}/memory.max`),
          text(`${dir}/memory.stat`),
          num(`${dir}/pids.current`).catch(() => 0),
        ]);
        const limit = max.trim() === 'max' ? totalmem() : Number(max);
        return {
          cpu_stats: {
            cpu_usage: { total_usage: (parseKeyValues(cpuStat).usage_usec ?? 0) * 1000 },
            system_cpu_usage,
            online_cpus: CPU_COUNT,
          },
          memory_stats: { usage, limit, stats: parseKeyValues(memStat) },
          networks: nets,
          pids_stats: { current: pids },
        };
      } catch {
        return undefined;
      }
    },
  };
}
