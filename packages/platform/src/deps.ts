import { join } from 'node:path';
import { createMemoryBus, createNatsBus, type Logger, type Probe, TENANT_KEY_FILE } from '@beacon/core';
import type { Registry } from 'prom-client';
import { createCgroupReader } from './clients/cgroup';
import { createDockerClient } from './clients/docker';
import { createProxyClient } from './clients/proxy';
import type { PlatformConfig } from './config';
import { createContainerService } from './containers';
import { openDatabase } from './db';
import { DockerEventWatcher } from './docker-events';
import { containerName } from './domain/spec';
import { createPlatformEvents } from './events';
import { HealthMonitor } from './health-monitor';
import type { PlatformMetrics } from './metrics';
import { createPools } from './pools';
import { createSecrets } from './secrets';
import { StatsCollector } from './stats-collector';

/** Everything the platform runs, built from its config; main.ts starts and stops it. */
export function createDeps(
  config: PlatformConfig,
  metrics: PlatformMetrics,
  registry: Registry,
  log: Logger,
) {
  const bus = config.BEACON_NATS_URL
    ? createNatsBus({ url: config.BEACON_NATS_URL, name: 'beacon-platform', log })
    : createMemoryBus(log);
  const events = createPlatformEvents(bus, log);
  const docker = createDockerClient();
  const secrets = createSecrets({
    dir: config.BEACON_SECRETS_DIR,
    opToken: config.OP_SERVICE_ACCOUNT_TOKEN,
    opTokenFile: config.BEACON_OP_TOKEN_FILE,
    opVault: config.BEACON_OP_VAULT,
    runtimeDir: config.BEACON_SECRETS_RUNTIME_DIR,
    mode: config.BEACON_SECRETS_MODE,
    log,
  });
  const proxyUrl = config.BEACON_PROXY_URL;
  const proxy = proxyUrl ? createProxyClient(proxyUrl, config.BEACON_ADMIN_TOKEN) : undefined;
  const db = openDatabase(join(config.BEACON_DATA_DIR, 'platform.sqlite'));
  const containers = createContainerService({
    docker,
    db,
    metrics,
    log,
    events,
    secrets,
    provisionEnv: async (handle, owner) => {
      const natsUrl = config.BEACON_KERNEL_NATS_URL ?? config.BEACON_NATS_URL;
      return {
        BEACON_HANDLE: handle,
        ...(natsUrl ? { BEACON_NATS_URL: natsUrl } : {}),
        ...(proxyUrl && proxy
          ? {
              BEACON_PROXY_URL: config.BEACON_KERNEL_PROXY_URL ?? proxyUrl,
              // A pooled container recycled while a tenant holds it keeps billing that tenant.
              BEACON_PROXY_KEY: await proxy.mint(pools.tenantOf(handle) ?? owner, handle),
            }
          : {}),
      };
    },
    ...(proxy ? { releaseEnv: (handle, owner) => proxy.revoke(owner, handle) } : {}),
    defaults: {
      image: config.BEACON_DEFAULT_IMAGE,
      ...(config.BEACON_CONTAINER_NETWORK ? { network: config.BEACON_CONTAINER_NETWORK } : {}),
      memoryMb: config.BEACON_DEFAULT_MEMORY_MB,
      cpus: config.BEACON_DEFAULT_CPUS,
      ttlSeconds: config.BEACON_CONTAINER_TTL,
    },
  });
  const stats = new StatsCollector({
    docker,
    metrics,
    log,
    intervalMs: config.BEACON_STATS_INTERVAL * 1000,
    cgroup: createCgroupReader(),
  });
  const pools = createPools({
    containers,
    db,
    metrics,
    log,
    pools: config.BEACON_POOLS,
    ...(proxy
      ? {
          tenantKeys: {
            give: async (handle, tenant) =>
              docker.writeFile(containerName(handle), TENANT_KEY_FILE, await proxy.mint(tenant, handle)),
            take: (handle, tenant) => proxy.revoke(tenant, handle),
          },
        }
      : {}),
  });
  const monitor = new HealthMonitor({
    containers,
    docker,
    metrics,
    log,
    stats,
    events,
    intervalMs: config.BEACON_HEALTH_INTERVAL * 1000,
    timeoutMs: config.BEACON_HEALTH_TIMEOUT * 1000,
    retries: config.BEACON_HEALTH_RETRIES,
  });
  const watcher = new DockerEventWatcher({
    docker,
    metrics,
    log,
    events,
    reconcile: () => containers.reconcile(),
    onState: (handle, action) => containers.applyEngineAction(handle, action),
  });
  const probes: Probe[] = config.BEACON_NATS_URL
    ? [{ name: 'nats', timeoutMs: 1000, check: () => bus.check() }]
    : [];

  // Docker may be down at start: keep serving (health says so) and reconcile once it answers.
  const reconcile = async (): Promise<void> => {
    try {
      await containers.reconcile();
    } catch (err) {
      log.warn({ event: 'platform.reconcile_failed', err: String(err) }, 'reconcile failed; retrying in 5 s');
      await Bun.sleep(5000);
      return reconcile();
    }
  };

  return {
    appDeps: {
      registry,
      metrics,
      log,
      docker,
      containers,
      stats,
      events,
      pools,
      proxy,
      probes,
      grafanaUrl: config.BEACON_GRAFANA_URL,
    },
    start() {
      // Pools rebuild from records that agree with the engine.
      void reconcile().then(() => pools.start());
      watcher.start();
      stats.start();
      monitor.start();
    },
    closeStreams: () => events.close(),
    stopSteps: [
      () => pools.stop(),
      () => monitor.stop(),
      () => stats.stop(),
      () => watcher.stop(),
      () => bus.close(),
    ],
  };
}
