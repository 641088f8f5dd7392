import { join } from 'node:path';
import {
  configOrExit,
  createAuditTrail,
  databaseProbe,
  isLoopback,
  serveApp,
  serviceBasics,
} from '@beacon/core';
import { createBunWebSocket } from 'hono/bun';
import pkg from '../package.json';
import { createApp } from './app';
import { createFsArtifactStore } from './clients/artifact-store';
import { createPlatformClient } from './clients/platform';
import { createS3ArtifactStore } from './clients/s3-artifact-store';
import { loadConfig } from './config';
import { openDatabase } from './db';
import { createDispatcher } from './dispatcher';
import { startEventSide } from './events';
import { createInteractionLogger } from './interaction-logger';
import { createMetrics } from './metrics';

const config = configOrExit(() => loadConfig(Bun.env));
const { log, registry, exposure } = serviceBasics('gateway', pkg.version, config);
const metrics = createMetrics(registry);

if (!config.BEACON_API_TOKEN && !isLoopback(config.BEACON_HOST))
  log.warn(
    { event: 'gateway.api_open', host: config.BEACON_HOST },
    'the user API (message, web shell, events, artifacts) is open to anyone who reaches this port: set BEACON_API_TOKEN',
  );
const platform = createPlatformClient(config.BEACON_PLATFORM_URL, config.BEACON_ADMIN_TOKEN);
const db = openDatabase(join(config.BEACON_DATA_DIR, 'gateway.sqlite'));
const events = startEventSide({
  db,
  natsUrl: config.BEACON_NATS_URL,
  platformUrl: config.BEACON_PLATFORM_URL,
  adminToken: config.BEACON_ADMIN_TOKEN,
  sseQueueSize: config.BEACON_SSE_QUEUE_SIZE,
  metrics,
  log,
  onContainerEvent: platform.forget,
});
const transport = config.BEACON_NATS_URL ? 'nats' : 'http';
const interrupted = events.tasks.closeInterrupted(transport);
if (interrupted)
  log.warn({ event: 'gateway.tasks_interrupted', tasks: interrupted }, 'tasks cut off by a restart');
const prune = () => events.tasks.prune(new Date(Date.now() - config.BEACON_TASK_RETENTION * 86_400_000));
prune();
setInterval(prune, 3_600_000).unref();
const interactions = createInteractionLogger(config.BEACON_HOME, metrics, log);
const dispatcher = createDispatcher({
  ...events,
  platform,
  metrics,
  log,
  interactions,
  applyKernelMessage: events.bridge.onKernel,
  transport,
  timeoutMs: config.BEACON_DISPATCH_TIMEOUT * 1000,
});
const { upgradeWebSocket, websocket } = createBunWebSocket();
const artifactStore = config.BEACON_S3_ENDPOINT
  ? createS3ArtifactStore({
      endpoint: config.BEACON_S3_ENDPOINT,
      bucket: config.BEACON_S3_BUCKET,
      accessKey: config.BEACON_S3_ACCESS_KEY ?? '',
      secretKey: config.BEACON_S3_SECRET_KEY ?? '',
      region: config.BEACON_S3_REGION,
    })
  : createFsArtifactStore(join(config.BEACON_DATA_DIR, 'artifacts'));
const artifactMode = config.BEACON_ARTIFACT_MODE;

const app = createApp({
  identity: { name: 'gateway', version: pkg.version, commit: config.BEACON_COMMIT },
  registry,
  metrics,
  log,
  ...exposure,
  probes: [
    databaseProbe(db),
    { name: 'platform', required: true, check: platform.check },
    ...events.probes,
    ...(artifactMode === 'off' ? [] : [{ name: 'artifacts', check: artifactStore.check }]),
  ],
  sse: events.sse,
  tasks: events.tasks,
  alertToken: config.BEACON_ALERT_TOKEN ?? config.BEACON_ADMIN_TOKEN,
  dispatcher,
  interactions,
  adminToken: config.BEACON_ADMIN_TOKEN,
  ...(config.BEACON_API_TOKEN ? { apiToken: config.BEACON_API_TOKEN } : {}),
  upgradeWebSocket,
  audit: createAuditTrail(db, log),
  artifacts: { store: artifactStore, mode: artifactMode, maxBytes: config.BEACON_ARTIFACT_MAX_BYTES },
});

serveApp(app, {
  host: config.BEACON_HOST,
  port: config.BEACON_PORT,
  log,
  websocket: websocket as Bun.WebSocketHandler<unknown>,
  closeStreams: () => events.sse.close(),
  stopSteps: [() => events.stop()],
});
