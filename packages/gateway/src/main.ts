import {
  collectProcessMetrics,
  configOrExit,
  createLogger,
  registerServiceInfo,
  serveApp,
} from '@beacon/core';
import { Registry } from 'prom-client';
import pkg from '../package.json';
import { createApp } from './app';
import { loadConfig } from './config';
import { startEventSide } from './events';
import { createMetrics } from './metrics';

const config = configOrExit(() => loadConfig(Bun.env));
const log = createLogger({ service: 'gateway', level: config.BEACON_LOG_LEVEL });
const registry = new Registry();
collectProcessMetrics(registry);
registerServiceInfo(registry, 'gateway', pkg.version);
const metrics = createMetrics(registry);

const events = startEventSide({
  natsUrl: config.BEACON_NATS_URL,
  platformUrl: config.BEACON_PLATFORM_URL,
  sseQueueSize: config.BEACON_SSE_QUEUE_SIZE,
  metrics,
  log,
});

const app = createApp({
  identity: { name: 'gateway', version: pkg.version, commit: config.BEACON_COMMIT },
  registry,
  metrics,
  log,
  metricsToken: config.BEACON_METRICS_TOKEN,
  probes: events.probes,
  sse: events.sse,
  tasks: events.tasks,
  alertToken: config.BEACON_ALERT_TOKEN ?? config.BEACON_ADMIN_TOKEN,
});

serveApp(app, { host: config.BEACON_HOST, port: config.BEACON_PORT, log, stopSteps: [() => events.stop()] });
