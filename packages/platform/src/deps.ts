import { join } from 'node:path';
import {
  createAuditTrail,
  createMemoryBus,
  createNatsBus,
  credsFile,
  databaseProbe,
  diskProbe,
  type Logger,
  langfuseOf,
  NOT_REPORTING,
  type Probe,
  type Service,
  type ServiceBasics,
  sqliteStore,
} from '@beacon/core';
import Docker from 'dockerode';
import { createApp, type PlatformDeps } from './app';
import { createDockerClient, type DockerClient } from './clients/docker';
import { createGatewayClient } from './clients/gateway';
import { createSessionSummaries } from './clients/langfuse';
import { createLokiClient } from './clients/loki';
import { createProxyClient, type ProxyClient } from './clients/proxy';
import { createSecrets, type Secrets } from './clients/secrets';
import type { PlatformConfig } from './config';
import { openDatabase, type PlatformDb, schema } from './db';
import { createFleet, type FleetStore, openFleetStore } from './fleet';
import type { ContainerService } from './lifecycle/containers';
import { createPlatformEvents, type PlatformEvents } from './lifecycle/events';
import { createLifecycle } from './lifecycle/lifecycle';
import { createMetrics, type PlatformMetrics } from './metrics';
import { createLogSearch } from './observe/log-search';
import { createObservers } from './observe/observers';
import { billTo } from './pools/members';
import { createPools } from './pools/pools';

/** What a test puts in place of a part: an engine of its own (or one that cannot be reached), a fake. */
export interface DepsOverrides {
  docker?: DockerClient;
  db?: PlatformDb;
  secrets?: Secrets;
  events?: PlatformEvents;
  /** In place of the proxy's key API (mint and revoke). */
  keys?: Pick<ProxyClient, 'mint' | 'revokeHandle' | 'bind'>;
}

/** Everything outside the process the platform talks to, chosen once from the config. */
function outside(
  config: PlatformConfig,
  { log }: ServiceBasics,
  metrics: PlatformMetrics,
  overrides: DepsOverrides,
) {
  const proxy = config.BEACON_PROXY_URL
    ? createProxyClient(config.BEACON_PROXY_URL, config.BEACON_ADMIN_TOKEN)
    : undefined;
  const langfuse = langfuseOf(config);
  return {
    docker:
      overrides.docker ??
      createDockerClient(new Docker(), config.BEACON_INSTANCE, (operation, status, seconds) =>
        metrics.dockerOperationDuration.observe({ operation, status }, seconds),
      ),
    bus: config.BEACON_NATS_URL
      ? createNatsBus({
          url: config.BEACON_NATS_URL,
          name: 'beacon-platform',
          log,
          credentials: credsFile(config.BEACON_NATS_CREDS),
        })
      : createMemoryBus(log),
    secrets:
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
      }),
    proxy,
    keys: overrides.keys ?? proxy,
    gateway: createGatewayClient(
      config.BEACON_GATEWAY_URL,
      config.BEACON_ADMIN_TOKEN,
      config.BEACON_GATEWAY_API_TOKEN,
    ),
    loki: config.BEACON_LOKI_URL ? createLokiClient(config.BEACON_LOKI_URL) : undefined,
    sessions: langfuse
      ? createSessionSummaries(langfuse, config.BEACON_LANGFUSE_SUMMARY_TTL * 1000)
      : undefined,
    db: overrides.db ?? openDatabase(join(config.BEACON_DATA_DIR, 'platform.sqlite')),
    /** Several Docker hosts: the fleet's shared store; one host alone is the whole fleet. */
    fleetStore: config.BEACON_DATABASE_URL
      ? openFleetStore(config.BEACON_DATABASE_URL, join(config.BEACON_DATA_DIR, 'fleet.sqlite'), log)
      : undefined,
  };
}

/** Several Docker hosts on one database: this host's heartbeat, placement and the others' containers. */
function fleetOf(
  config: PlatformConfig,
  store: FleetStore,
  {
    log,
    metrics,
    containers,
    docker,
  }: { log: Logger; metrics: PlatformMetrics; containers: ContainerService; docker: DockerClient },
) {
  return createFleet({
    store,
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
}

/** Everything the platform runs, built from its config; main.ts serves it, tests build the same. */
export function createDeps(config: PlatformConfig, basics: ServiceBasics, overrides: DepsOverrides = {}) {
  const { log, registry, reporting = NOT_REPORTING } = basics;
  const metrics = createMetrics(registry);
  const { docker, bus, secrets, proxy, keys, gateway, loki, sessions, db, fleetStore } = outside(
    config,
    basics,
    metrics,
    overrides,
  );
  const store = sqliteStore(db, schema);
  const events = overrides.events ?? createPlatformEvents(bus, log, db);
  const tenantOf = billTo(db);
  const { releases, containers, reconcile, watcher, natsRenewal } = createLifecycle(config, {
    log,
    metrics,
    docker,
    db,
    secrets,
    events,
    keys,
    // A pooled container recycled while a tenant holds it keeps billing that tenant.
    ...(keys ? { mintKey: (handle, owner) => keys.mint(tenantOf(handle) ?? owner, handle) } : {}),
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
            // The container keeps its key (its agents read it once, from env): the proxy moves the billing.
            give: (handle, tenant) => keys.bind(handle, tenant),
            take: (handle) => keys.revokeHandle(handle),
          },
        }
      : {}),
  });
  const fleet = fleetStore && fleetOf(config, fleetStore, { log, metrics, containers, docker });
  const {
    start: startObservers,
    stopSteps: observerSteps,
    ...observe
  } = createObservers(config, {
    log,
    registry,
    metrics,
    docker,
    containers,
    events,
    db,
    proxy,
    gateway,
    ...(fleet ? { fleet } : {}),
  });
  // Required: the engine (app.ts) and the database; NATS only carries events out (SSE still has them).
  const probes: Probe[] = [
    databaseProbe(store),
    diskProbe(config.BEACON_DATA_DIR),
    // Optional: without it the platform still runs its own host (degraded, not down).
    ...(fleetStore ? [{ ...databaseProbe(fleetStore, 'fleet_database'), required: false }] : []),
    ...(config.BEACON_NATS_URL ? [{ name: 'nats', timeoutMs: 1000, check: () => bus.check() }] : []),
    ...(sessions ? [sessions.probe] : []),
    ...reporting.probes,
  ];
  const parts = {
    ...basics,
    metrics,
    probes,
    adminToken: config.BEACON_ADMIN_TOKEN,
    docker,
    containers,
    events,
    pools,
    proxy,
    gateway,
    ...observe,
    historyRawMs: config.BEACON_HISTORY_RAW_HOURS * 3_600_000,
    ...(fleet ? { fleet } : {}),
    // In a fleet, one trail for every host's platform.
    audit: createAuditTrail(fleetStore ?? store, log),
    grafanaUrl: config.BEACON_GRAFANA_URL,
    logSearch: createLogSearch({ containers, docker, loki }),
    ...(sessions ? { sessions } : {}),
    db,
    reconcile,
  } satisfies PlatformDeps & Record<string, unknown>;

  // Docker may be down at start: keep serving (health says so) and reconcile once it answers.
  const reconcileAtStart = async (): Promise<void> => {
    try {
      await reconcile(true);
      await releases.retry();
    } catch (err) {
      log.warn({ event: 'platform.reconcile_failed', err: String(err) }, 'reconcile failed; retrying in 5 s');
      await Bun.sleep(5000);
      return reconcileAtStart();
    }
  };

  return {
    app: createApp({ ...parts, ...basics.exposure }),
    parts,
    start() {
      void fleet?.start();
      // Pools rebuild from records that agree with the engine.
      void reconcileAtStart().then(() => pools.start());
      releases.start();
      watcher.start();
      natsRenewal.start();
      startObservers();
    },
    stop: {
      streams: () => {
        events.close();
        observe.console.close();
      },
      steps: [
        () => pools.stop(),
        () => releases.stop(),
        () => containers.close(),
        ...observerSteps,
        () => watcher.stop(),
        () => natsRenewal.stop(),
        () => bus.close(),
        async () => fleet?.stop(),
        ...reporting.stopSteps,
      ],
    },
  } satisfies Service<typeof parts>;
}
