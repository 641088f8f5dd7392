import { join } from 'node:path';
import {
  createAuditTrail,
  createMemoryBus,
  createNatsBus,
  databaseProbe,
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
import { createFleet, openFleetStore } from './fleet';
import { createContainerService } from './lifecycle/containers';
import { DockerEventWatcher } from './lifecycle/engine-events';
import { createPlatformEvents, type PlatformEvents } from './lifecycle/events';
import { reconcile } from './lifecycle/reconcile';
import { createReleases } from './lifecycle/releases';
import { createMetrics } from './metrics';
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
  keys?: Pick<ProxyClient, 'mint' | 'revokeHandle'>;
}

/** Everything outside the process the platform talks to, chosen once from the config. */
function outside(config: PlatformConfig, { log }: ServiceBasics, overrides: DepsOverrides) {
  const proxy = config.BEACON_PROXY_URL
    ? createProxyClient(config.BEACON_PROXY_URL, config.BEACON_ADMIN_TOKEN)
    : undefined;
  const langfuse = langfuseOf(config);
  return {
    bus: config.BEACON_NATS_URL
      ? createNatsBus({ url: config.BEACON_NATS_URL, name: 'beacon-platform', log })
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

/** The env every container gets besides its secrets: where NATS, the proxy and the trace collector are. */
function containerEnv(config: PlatformConfig) {
  const nats = config.BEACON_KERNEL_NATS_URL ?? config.BEACON_NATS_URL;
  // Only where the platform has a proxy to mint keys on: a URL without a key would be of no use.
  const proxy = config.BEACON_PROXY_URL && (config.BEACON_KERNEL_PROXY_URL ?? config.BEACON_PROXY_URL);
  const otlp = config.BEACON_KERNEL_OTLP_URL ?? config.BEACON_OTLP_URL;
  return (handle: string) => ({
    BEACON_HANDLE: handle,
    ...(nats ? { BEACON_NATS_URL: nats } : {}),
    ...(proxy ? { BEACON_PROXY_URL: proxy } : {}),
    ...(otlp ? { BEACON_OTLP_URL: otlp } : {}),
  });
}

/** Everything the platform runs, built from its config; main.ts serves it, tests build the same. */
export function createDeps(config: PlatformConfig, basics: ServiceBasics, overrides: DepsOverrides = {}) {
  const { log, registry, reporting = NOT_REPORTING } = basics;
  const metrics = createMetrics(registry);
  const { bus, secrets, proxy, keys, gateway, loki, sessions, db, fleetStore } = outside(
    config,
    basics,
    overrides,
  );
  const docker =
    overrides.docker ??
    createDockerClient(new Docker(), config.BEACON_INSTANCE, (operation, status, seconds) =>
      metrics.dockerOperationDuration.observe({ operation, status }, seconds),
    );
  const store = sqliteStore(db, schema);
  const events = overrides.events ?? createPlatformEvents(bus, log, db);
  const releases = createReleases({ db, log, secrets, revokeKeys: keys?.revokeHandle });
  const defaults = {
    image: config.BEACON_DEFAULT_IMAGE,
    ...(config.BEACON_CONTAINER_NETWORK ? { network: config.BEACON_CONTAINER_NETWORK } : {}),
    memoryMb: config.BEACON_DEFAULT_MEMORY_MB,
    cpus: config.BEACON_DEFAULT_CPUS,
    ttlSeconds: config.BEACON_CONTAINER_TTL,
  };
  const tenantOf = billTo(db);
  const containers = createContainerService({
    docker,
    db,
    metrics,
    log,
    events,
    secrets,
    releases,
    env: containerEnv(config),
    // A pooled container recycled while a tenant holds it keeps billing that tenant.
    ...(keys ? { mintKey: (handle, owner) => keys.mint(tenantOf(handle) ?? owner, handle) } : {}),
    defaults,
    restartPolicy: {
      initialMs: config.BEACON_RESTART_BACKOFF * 1000,
      maxMs: config.BEACON_RESTART_BACKOFF_MAX * 1000,
    },
    readyTimeoutMs: config.BEACON_CREATE_TIMEOUT * 1000,
  });
  const reconcileOnce = (atStart = false) =>
    reconcile({ docker, db, log, defaults, containers, secretHandles: secrets.handles }, { atStart });
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
  });
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
  const watcher = new DockerEventWatcher({
    docker,
    metrics,
    log,
    events,
    reconcile: () => reconcileOnce(),
    onState: (handle, action, id) => containers.applyEngineAction(handle, action, id),
    instance: config.BEACON_INSTANCE,
  });
  // Required: the engine (app.ts) and the database; NATS only carries events out (SSE still has them).
  const probes: Probe[] = [
    databaseProbe(store),
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
    reconcile: reconcileOnce,
  } satisfies PlatformDeps & Record<string, unknown>;

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
    app: createApp({ ...parts, ...basics.exposure }),
    parts,
    start() {
      void fleet?.start();
      // Pools rebuild from records that agree with the engine.
      void reconcileAtStart().then(() => pools.start());
      releases.start();
      watcher.start();
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
        () => bus.close(),
        async () => fleet?.stop(),
        ...reporting.stopSteps,
      ],
    },
  } satisfies Service<typeof parts>;
}
