import { join } from 'node:path';
import {
  createAuditTrail,
  createMemoryBus,
  createNatsBus,
  databaseProbe,
  type Logger,
  langfuseOf,
  type Probe,
  type Reporting,
  sqliteStore,
} from '@beacon/core';
import Docker from 'dockerode';
import type { Registry } from 'prom-client';
import { createCgroupReader } from './clients/cgroup';
import { createDockerClient, type DockerClient } from './clients/docker';
import { createGatewayClient } from './clients/gateway';
import { createSessionSummaries } from './clients/langfuse';
import { createLokiClient } from './clients/loki';
import { createProxyClient, type ProxyClient } from './clients/proxy';
import type { PlatformConfig } from './config';
import { createConsole } from './console';
import { createContainerService } from './containers';
import { openDatabase, type PlatformDb, schema } from './db';
import { DockerEventWatcher } from './docker-events';
import { createPlatformEvents, type PlatformEvents } from './events';
import { createFleet, openFleetStore } from './fleet';
import { HealthMonitor } from './health-monitor';
import { createHistory } from './history';
import { createLogSearch } from './log-search';
import type { PlatformMetrics } from './metrics';
import { createPools } from './pools';
import { reconcile } from './reconcile';
import { createReleases } from './releases';
import { createSecrets, type Secrets } from './secrets';
import { StatsCollector } from './stats-collector';

/** What a test puts in place of a part: an engine of its own (or one that cannot be reached), a fake. */
export interface DepsOverrides {
  docker?: DockerClient;
  db?: PlatformDb;
  secrets?: Secrets;
  events?: PlatformEvents;
  /** In place of the proxy's key API (mint and revoke). */
  keys?: Pick<ProxyClient, 'mint' | 'revokeHandle'>;
  /** What main.ts's serviceBasics reports to (Loki, the trace collector): their probes and last flush. */
  reporting?: Reporting;
}

/** Everything the platform runs, built from its config; main.ts starts and stops it, tests build the same. */
export function createDeps(
  config: PlatformConfig,
  metrics: PlatformMetrics,
  registry: Registry,
  log: Logger,
  overrides: DepsOverrides = {},
) {
  const bus = config.BEACON_NATS_URL
    ? createNatsBus({ url: config.BEACON_NATS_URL, name: 'beacon-platform', log })
    : createMemoryBus(log);
  const docker =
    overrides.docker ??
    createDockerClient(new Docker(), config.BEACON_INSTANCE, (operation, status, seconds) =>
      metrics.dockerOperationDuration.observe({ operation, status }, seconds),
    );
  const secrets =
    overrides.secrets ??
    createSecrets({
      dir: config.BEACON_SECRETS_DIR,
      opToken: config.OP_SERVICE_ACCOUNT_TOKEN,
      opTokenFile: config.BEACON_OP_TOKEN_FILE,
      opVault: config.BEACON_OP_VAULT,
      // Per instance: a platform sharing the host's tmpfs with another never touches its files.
      runtimeDir: join(config.BEACON_SECRETS_RUNTIME_DIR, config.BEACON_INSTANCE),
      mode: config.BEACON_SECRETS_MODE,
      log,
    });
  const proxyUrl = config.BEACON_PROXY_URL;
  const proxy = proxyUrl ? createProxyClient(proxyUrl, config.BEACON_ADMIN_TOKEN) : undefined;
  const keys = overrides.keys ?? proxy;
  const db = overrides.db ?? openDatabase(join(config.BEACON_DATA_DIR, 'platform.sqlite'));
  const store = sqliteStore(db, schema);
  /** Several Docker hosts: the fleet's shared store; one host alone is the whole fleet. */
  const fleetStore = config.BEACON_DATABASE_URL
    ? openFleetStore(config.BEACON_DATABASE_URL, join(config.BEACON_DATA_DIR, 'fleet.sqlite'), log)
    : undefined;
  const events = overrides.events ?? createPlatformEvents(bus, log, db);
  const releases = createReleases({ db, log, secrets, revokeKeys: keys?.revokeHandle });
  const natsUrl = config.BEACON_KERNEL_NATS_URL ?? config.BEACON_NATS_URL;
  const otlpUrl = config.BEACON_KERNEL_OTLP_URL ?? config.BEACON_OTLP_URL;
  const defaults = {
    image: config.BEACON_DEFAULT_IMAGE,
    ...(config.BEACON_CONTAINER_NETWORK ? { network: config.BEACON_CONTAINER_NETWORK } : {}),
    memoryMb: config.BEACON_DEFAULT_MEMORY_MB,
    cpus: config.BEACON_DEFAULT_CPUS,
    ttlSeconds: config.BEACON_CONTAINER_TTL,
  };
  const containers = createContainerService({
    docker,
    db,
    metrics,
    log,
    events,
    secrets,
    releases,
    env: (handle) => ({
      BEACON_HANDLE: handle,
      ...(natsUrl ? { BEACON_NATS_URL: natsUrl } : {}),
      ...(proxyUrl ? { BEACON_PROXY_URL: config.BEACON_KERNEL_PROXY_URL ?? proxyUrl } : {}),
      ...(otlpUrl ? { BEACON_OTLP_URL: otlpUrl } : {}),
    }),
    // A pooled container recycled while a tenant holds it keeps billing that tenant.
    ...(keys ? { mintKey: (handle, owner) => keys.mint(pools.tenantOf(handle) ?? owner, handle) } : {}),
    defaults,
    restartPolicy: {
      initialMs: config.BEACON_RESTART_BACKOFF * 1000,
      maxMs: config.BEACON_RESTART_BACKOFF_MAX * 1000,
    },
    readyTimeoutMs: config.BEACON_CREATE_TIMEOUT * 1000,
  });
  const reconcileOnce = (atStart = false) =>
    reconcile({ docker, db, log, defaults, containers, secretHandles: secrets.handles }, { atStart });
  const history = createHistory({
    db,
    log,
    rawMs: config.BEACON_HISTORY_RAW_HOURS * 3_600_000,
    aggregateMs: config.BEACON_HISTORY_DAYS * 86_400_000,
  });
  const stats = new StatsCollector({
    docker,
    metrics,
    log,
    intervalMs: config.BEACON_STATS_INTERVAL * 1000,
    cgroup: createCgroupReader(),
    streams: config.BEACON_STATS_STREAM,
    onCycle: (at, collected) => {
      history.record(at, collected);
      consoleView.push();
    },
  });
  const pools = createPools({
    containers,
    db,
    metrics,
    log,
    pools: config.BEACON_POOLS,
    ...(keys
      ? {
          tenantKeys: {
            give: async (handle, tenant) => containers.giveKey(handle, await keys.mint(tenant, handle)),
            take: (handle) => keys.revokeHandle(handle),
          },
        }
      : {}),
  });
  const gateway = createGatewayClient(
    config.BEACON_GATEWAY_URL,
    config.BEACON_ADMIN_TOKEN,
    config.BEACON_GATEWAY_API_TOKEN,
  );
  const consoleView = createConsole({
    containers,
    stats,
    history,
    registry,
    log,
    gateway,
    pools: config.BEACON_POOLS.map((p) => p.name),
    ...(proxy ? { proxy } : {}),
  });
  events.listen(() => consoleView.push());
  const fleet =
    fleetStore &&
    createFleet({
      store: fleetStore,
      host: config.BEACON_HOST_ID,
      url: config.BEACON_ADVERTISE_URL ?? `http://${config.BEACON_HOST}:${config.BEACON_PORT}`,
      log,
      records: () => containers.list(),
      ping: () => docker.ping(),
      onBeat: (hosts, lost) => {
        for (const [state, n] of Object.entries(hosts)) metrics.fleetHosts.set({ state }, n);
        metrics.fleetLost.set(lost);
      },
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
    reconcile: () => reconcileOnce(),
    onState: (handle, action, id) => containers.applyEngineAction(handle, action, id),
    instance: config.BEACON_INSTANCE,
  });
  const langfuse = langfuseOf(config);
  const sessions = langfuse
    ? createSessionSummaries(langfuse, config.BEACON_LANGFUSE_SUMMARY_TTL * 1000)
    : undefined;
  const logSearch = createLogSearch({
    containers,
    docker,
    loki: config.BEACON_LOKI_URL ? createLokiClient(config.BEACON_LOKI_URL) : undefined,
  });
  // Required: the engine (app.ts) and the database; NATS only carries events out (SSE still has them).
  const probes: Probe[] = [
    databaseProbe(store),
    // Optional: without it the platform still runs its own host (degraded, not down).
    ...(fleetStore ? [{ ...databaseProbe(fleetStore, 'fleet_database'), required: false }] : []),
    ...(config.BEACON_NATS_URL ? [{ name: 'nats', timeoutMs: 1000, check: () => bus.check() }] : []),
    ...(sessions ? [sessions.probe] : []),
    ...(overrides.reporting?.probes ?? []),
  ];

  // Docker may be down at start: keep serving (health says so) and reconcile once it answers.
  const reconcileAtStart = async (): Promise<void> => {
    try {
      await reconcileOnce(true);
      await releases.retry();
    } catch (err) {
      log.warn({ event: 'platform.reconcile_failed', err: String(err) }, 'reconcile failed; retrying in 5 s');
      await Bun.sleep(5000);
      return reconcileAtStart();
    }
  };

  return {
    db,
    reconcile: reconcileOnce,
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
      history,
      historyRawMs: config.BEACON_HISTORY_RAW_HOURS * 3_600_000,
      console: consoleView,
      ...(fleet ? { fleet } : {}),
      gateway,
      // In a fleet, one trail for every host's platform.
      audit: createAuditTrail(fleetStore ?? store, log),
      grafanaUrl: config.BEACON_GRAFANA_URL,
      logSearch,
      ...(sessions ? { sessions } : {}),
    },
    start() {
      void fleet?.start();
      // Pools rebuild from records that agree with the engine.
      void reconcileAtStart().then(() => pools.start());
      releases.start();
      watcher.start();
      history.start();
      stats.start();
      monitor.start();
    },
    closeStreams: () => {
      events.close();
      consoleView.close();
    },
    stopSteps: [
      () => pools.stop(),
      () => releases.stop(),
      () => containers.close(),
      () => monitor.stop(),
      () => stats.stop(),
      () => history.stop(),
      () => watcher.stop(),
      () => bus.close(),
      async () => fleet?.stop(),
      ...(overrides.reporting?.stopSteps ?? []),
    ],
  };
}
