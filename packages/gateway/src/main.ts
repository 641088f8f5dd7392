import { configOrExit, serveApp, serviceBasics } from '@beacon/core';
import { createBunWebSocket } from 'hono/bun';
import pkg from '../package.json';
import { createApp } from './app';
import { createPlatformClient } from './clients/platform';
import { loadConfig } from './config';
import { createDispatcher } from './dispatcher';
import { startEventSide } from './events';
import { createInteractionLogger } from './interaction-logger';
import { createMetrics } from './metrics';

const config = configOrExit(() => loadConfig(Bun.env));
const { log, registry } = serviceBasics('gateway', pkg.version, config.BEACON_LOG_LEVEL);
const metrics = createMetrics(registry);

const events = startEventSide({
  natsUrl: config.BEACON_NATS_URL,
  platformUrl: config.BEACON_PLATFORM_URL,
  sseQueueSize: config.BEACON_SSE_QUEUE_SIZE,
  metrics,
  log,
});
const dispatcher = createDispatcher({
  ...events,
  platform: createPlatformClient(config.BEACON_PLATFORM_URL, config.BEACON_ADMIN_TOKEN),
  metrics,
  log,
  interactions: createInteractionLogger(config.BEACON_HOME, metrics, log),
  applyKernelMessage: events.bridge.onKernel,
  transport: config.BEACON_NATS_URL ? 'nats' : 'http',
  timeoutMs: config.BEACON_DISPATCH_TIMEOUT * 1000,
});
const { upgradeWebSocket, websocket } = createBunWebSocket();

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
  dispatcher,
  upgradeWebSocket,
});

serveApp(app, {
  host: config.BEACON_HOST,
  port: config.BEACON_PORT,
  log,
  websocket: websocket as Bun.WebSocketHandler<unknown>,
  stopSteps: [() => events.stop()],
});
