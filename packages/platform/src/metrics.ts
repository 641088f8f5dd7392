import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The platform's metric handles (docs/metrics.md), on the platform's own registry. */
export function createMetrics(registry: Registry) {
  const registers = [registry];
  const perHandle = (name: string, help: string) =>
    new Gauge({ name, help, labelNames: ['handle'], registers });
  const perHandleCounter = (name: string, help: string) =>
    new Counter({ name, help, labelNames: ['handle'], registers });
  const perPool = (name: string, help: string) => new Gauge({ name, help, labelNames: ['pool'], registers });
  const perPoolCounter = (name: string, help: string) =>
    new Counter({ name, help, labelNames: ['pool'], registers });
  const poolDuration = (name: string, help: string) =>
    new Histogram({
      name,
      help,
      labelNames: ['pool', 'status'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    });
  return {
    fleetHosts: new Gauge({
      name: 'platform_fleet_hosts',
      help: 'Docker hosts of the fleet by state (up, engine_down, lost), as this platform reads them.',
      labelNames: ['state'],
      registers,
    }),
    fleetLost: new Gauge({
      name: 'platform_fleet_lost_containers',
      help: 'Containers of the fleet on a host that is lost or without its engine.',
      registers,
    }),
    containers: new Gauge({
      name: 'platform_containers',
      help: 'Managed containers by state.',
      labelNames: ['state'],
      registers,
    }),
    up: perHandle('platform_container_up', 'Whether the managed container is running (1) or not (0).'),
    cpuPercent: perHandle(
      'platform_container_cpu_percent',
      'CPU use in percent of one core (docker formula).',
    ),
    cpuSeconds: perHandleCounter(
      'platform_container_cpu_seconds_total',
      'CPU time used by the container, seconds.',
    ),
    memoryBytes: perHandle(
      'platform_container_memory_bytes',
      'Memory in use minus inactive file cache, bytes.',
    ),
    memoryLimitBytes: perHandle(
      'platform_container_memory_limit_bytes',
      'Memory limit of the container, bytes.',
    ),
    networkRx: perHandleCounter(
      'platform_container_network_receive_bytes_total',
      'Bytes received, all interfaces.',
    ),
    networkTx: perHandleCounter(
      'platform_container_network_transmit_bytes_total',
      'Bytes sent, all interfaces.',
    ),
    pids: perHandle('platform_container_pids', 'Processes and threads in the container.'),
    healthy: perHandle('platform_container_healthy', 'Whether the last health check passed (1) or not (0).'),
    desiredRunning: perHandle(
      'platform_container_desired_running',
      'Whether the container is meant to run (1) or was stopped through the API (0).',
    ),
    restarts: perHandleCounter(
      'platform_container_restarts_total',
      'Restarts (with backoff) after the container exited or was OOM-killed on its own.',
    ),
    healthCheckFailures: new Counter({
      name: 'platform_container_health_check_failures_total',
      help: 'Failed container health checks, by pool (none for containers outside pools).',
      labelNames: ['pool'],
      registers,
    }),
    recycles: new Counter({
      name: 'platform_container_recycles_total',
      help: 'Containers destroyed and provisioned again, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    oomKills: new Counter({
      name: 'platform_container_oom_kills_total',
      help: 'OOM kills of managed containers, each once (one per run of a container), by handle.',
      labelNames: ['handle'],
      registers,
    }),
    provisionDuration: new Histogram({
      name: 'platform_provision_duration_seconds',
      help: 'Time to create and start a container, by outcome.',
      labelNames: ['status'],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    }),
    operations: new Counter({
      name: 'platform_container_operations_total',
      help: 'Container operations, by operation, outcome and pool (none outside pools).',
      labelNames: ['operation', 'status', 'pool'],
      registers,
    }),
    statsCollectDuration: new Histogram({
      name: 'platform_stats_collect_duration_seconds',
      help: 'Duration of one whole stats poll cycle.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 15, 30],
      registers,
    }),
    pool: {
      size: perPool('platform_pool_size', "The pool's containers, whatever their state."),
      available: perPool('platform_pool_available', 'Warm idle containers ready to hand out.'),
      borrowed: perPool('platform_pool_borrowed', 'Containers held by a tenant.'),
      pending: perPool('platform_pool_pending', 'Containers being created or wiped.'),
      minSize: perPool('platform_pool_min_size', 'Configured warm minimum.'),
      maxSize: perPool('platform_pool_max_size', 'Configured maximum.'),
      targetSize: perPool(
        'platform_pool_target_size',
        'What the pool is growing or shrinking to: the held containers plus the warm minimum, within max.',
      ),
      affinityReservations: perPool(
        'platform_pool_affinity_reservations',
        'Idle containers kept warm for the tenant that held them last.',
      ),
      createDuration: poolDuration(
        'platform_pool_create_duration_seconds',
        'Time to create a pool container until it is healthy, by outcome.',
      ),
      destroyDuration: poolDuration(
        'platform_pool_destroy_duration_seconds',
        'Time to remove a pool container (shrinking, or after a failed wipe), by outcome.',
      ),
      wipeDuration: poolDuration(
        'platform_pool_wipe_duration_seconds',
        'Time to wipe a released container (recycled from the pool spec), by outcome.',
      ),
      releaseDuration: poolDuration(
        'platform_pool_release_duration_seconds',
        'Time to answer a release: key revoked and container wiped, by outcome.',
      ),
      acquireDuration: new Histogram({
        name: 'platform_pool_acquire_duration_seconds',
        help: 'Time to hand a container to a tenant, by outcome (ok, exhausted, error).',
        labelNames: ['pool', 'status'],
        buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
        registers,
      }),
      affinityHits: perPoolCounter(
        'platform_pool_affinity_hits_total',
        "Acquisitions answered with the tenant's previous container.",
      ),
      affinityMisses: perPoolCounter(
        'platform_pool_affinity_misses_total',
        'Acquisitions answered with another container.',
      ),
      affinityEvictions: perPoolCounter(
        'platform_pool_affinity_evictions_total',
        'Containers kept warm for one tenant handed to another (the pool ran short).',
      ),
    },
    dockerOperationDuration: new Histogram({
      name: 'platform_docker_operation_duration_seconds',
      help: 'Docker engine calls, by operation and outcome (ok, refused, error).',
      labelNames: ['operation', 'status'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    dockerEvents: new Counter({
      name: 'platform_docker_events_total',
      help: 'Docker engine events seen for managed containers, by action.',
      labelNames: ['action'],
      registers,
    }),
  };
}

export type PlatformMetrics = ReturnType<typeof createMetrics>;
