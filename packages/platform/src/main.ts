import { join } from 'node:path';
import {
  collectProcessMetrics,
  configOrExit,
  createLogger,
  createMemoryBus,
  createNatsBus,
  registerServiceInfo,
  serveApp,
} from '@beacon/core';
import { Registry } from 'prom-client';
import pkg from '../package.json';
import { createApp } from './app';
import { createCgroupReader } from './clients/cgroup';
import { createDockerClient } from './clients/docker';
import { loadConfig } from './config';
import { createContainerService } from './containers';
import { openDatabase } from './db';
import { createPlatformEvents } from './events';
import { createMetrics } from './metrics';
import { StatsCollector } from './stats-collector';

const config = configOrExit(() => loadConfig(Bun.env));
const log = createLogger({ service: 'platform', level: config.BEACON_LOG_LEVEL });
const registry = new Registry();
collectProcessMetrics(registry);
registerServiceInfo(registry, 'platform', pkg.version);
const metrics = createMetrics(registry);

const bus = config.BEACON_NATS_URL
  ? createNatsBus({ url: config.BEACON_NATS_URL, name: 'beacon-platform', log })
  : createMemoryBus(log);
const events = createPlatformEvents(bus, log);
const docker = createDockerClient();
const db = openDatabase(join(config.BEACON_DATA_DIR, 'platform.sqlite'));
const containers = createContainerService({
  docker,
  db,
  metrics,
  log,
  events,
  defaults: {
    image: config.BEACON_DEFAULT_IMAGE,
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

const app = createApp({
  identity: { name: 'platform', version: pkg.version, commit: config.BEACON_COMMIT },
  registry,
  metrics,
  log,
  metricsToken: config.BEACON_METRICS_TOKEN,
  adminToken: config.BEACON_ADMIN_TOKEN,
  docker,
  containers,
  stats,
  events,
  ...(config.BEACON_NATS_URL
    ? { probes: [{ name: 'nats', timeoutMs: 1000, check: () => bus.check() }] }
    : {}),
});

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
void reconcile();
stats.start();

serveApp(app, {
  host: config.BEACON_HOST,
  port: config.BEACON_PORT,
  log,
  stopSteps: [() => stats.stop(), () => events.close(), () => bus.close()],
});
