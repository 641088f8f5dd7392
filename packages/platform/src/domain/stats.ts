/** The subset of Docker's stats JSON (GET /containers/{id}/stats) the platform reads. */
export interface DockerStatsJson {
  read?: string;
  cpu_stats?: {
    cpu_usage?: { total_usage?: number; percpu_usage?: number[] };
    system_cpu_usage?: number;
    online_cpus?: number;
  };
  memory_stats?: {
    usage?: number;
    limit?: number;
    stats?: Record<string, number>;
  };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
  pids_stats?: { current?: number };
}

export interface CpuSample {
  totalUsage: number;
  systemUsage: number;
  onlineCpus: number;
}

export interface ContainerStats {
  cpuPercent?: number;
  cpuSeconds: number;
  memoryBytes: number;
  memoryLimitBytes: number;
  networkRxBytes: number;
  networkTxBytes: number;
  pids: number;
  sample: CpuSample;
}

export function cpuSample(stats: DockerStatsJson): CpuSample {
  const cpu = stats.cpu_stats ?? {};
  return {
    totalUsage: cpu.cpu_usage?.total_usage ?? 0,
    systemUsage: cpu.system_cpu_usage ?? 0,
    onlineCpus: cpu.online_cpus || cpu.cpu_usage?.percpu_usage?.length || 1,
  };
}

/**
 * Docker's formula (docker stats): the container's share of host CPU time between two samples,
 * times the online CPUs, so 100 = one full core. Undefined without a usable previous sample.
 */
export function cpuPercent(previous: CpuSample | undefined, current: CpuSample): number | undefined {
  if (!previous) return undefined;
  const cpuDelta = current.totalUsage - previous.totalUsage;
  const systemDelta = current.systemUsage - previous.systemUsage;
  if (systemDelta <= 0 || cpuDelta < 0) return undefined;
  return (cpuDelta / systemDelta) * current.onlineCpus * 100;
}

/** Usage minus inactive file cache, as `docker stats` shows (cgroup v1 total_inactive_file, v2 inactive_file). */
export function memoryUsage(stats: DockerStatsJson): number {
  const usage = stats.memory_stats?.usage ?? 0;
  const detail = stats.memory_stats?.stats ?? {};
  const inactive = detail.total_inactive_file ?? detail.inactive_file ?? 0;
  return inactive < usage ? usage - inactive : usage;
}

export function networkTotals(stats: DockerStatsJson): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const net of Object.values(stats.networks ?? {})) {
    rx += net.rx_bytes ?? 0;
    tx += net.tx_bytes ?? 0;
  }
  return { rx, tx };
}

export function toContainerStats(stats: DockerStatsJson, previous: CpuSample | undefined): ContainerStats {
  const sample = cpuSample(stats);
  const { rx, tx } = networkTotals(stats);
  const percent = cpuPercent(previous, sample);
  return {
    ...(percent === undefined ? {} : { cpuPercent: percent }),
    cpuSeconds: sample.totalUsage / 1e9,
    memoryBytes: memoryUsage(stats),
    memoryLimitBytes: stats.memory_stats?.limit ?? 0,
    networkRxBytes: rx,
    networkTxBytes: tx,
    pids: stats.pids_stats?.current ?? 0,
    sample,
  };
}
