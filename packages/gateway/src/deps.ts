import { join } from 'node:path';
import {
  createAuditTrail,
  createTracing,
  databaseProbe,
  diskProbe,
  isLoopback,
  NOT_REPORTING,
  type Service,
  type ServiceBasics,
} from '@beacon/core';
import type { UpgradeWebSocket } from 'hono/ws';
import { createApp, type GatewayDeps } from './app';
import { createFsArtifactStore } from './clients/artifact-store';
import { createHttpTransport } from './clients/kernel-http';
import { createNatsTransport } from './clients/kernel-nats';
import { createPlatformClient } from './clients/platform';
import { createS3ArtifactStore } from './clients/s3-artifact-store';
import type { GatewayConfig } from './config';
import { type GatewayStore, openDatabase } from './db';
import { createDispatcher } from './dispatcher';
import { startEventSide } from './events';
import { createInteractionLogger } from './interaction-logger';
import { createMetrics } from './metrics';

/**
 * Everything the gateway runs, built from its config: clients (platform, kernels, artifacts), stores (tasks,
 * audit), the event side and the dispatcher; main.ts serves it, tests build the same.
 */
export function createDeps(
  config: GatewayConfig,
  basics: ServiceBasics,
  {
    store = openDatabase(
      join(config.BEACON_DATA_DIR, 'gateway.sqlite'),
      config.BEACON_DATABASE_URL,
      basics.log,
    ),
    durable,
    upgradeWebSocket,
  }: {
    store?: GatewayStore;
    /** The JetStream consumer's durable name (tests run several gateways on one server). */
    durable?: string;
    /** Bun's WebSocket upgrade (hono/bun), for the web shell's /ws. */
    upgradeWebSocket?: UpgradeWebSocket;
  } = {},
) {
  const {
    log,
    registry,
    tracing = createTracing({ service: 'gateway', version: 'dev' }),
    reporting = NOT_REPORTING,
  } = basics;
  if (!config.BEACON_API_TOKEN && !isLoopback(config.BEACON_HOST))
    log.warn(
      { event: 'gateway.api_open', host: config.BEACON_HOST },
      'the user API (message, web shell, events, artifacts) is open to anyone who reaches this port: set BEACON_API_TOKEN',
    );
  const metrics = createMetrics(registry);
  const platform = createPlatformClient(config.BEACON_PLATFORM_URL, config.BEACON_ADMIN_TOKEN);
  const interactions = createInteractionLogger(config.BEACON_HOME, metrics, log);
  const events = startEventSide({
    store,
    natsUrl: config.BEACON_NATS_URL,
    natsCreds: config.BEACON_NATS_CREDS,
    platformUrl: config.BEACON_PLATFORM_URL,
    adminToken: config.BEACON_ADMIN_TOKEN,
    sseQueueSize: config.BEACON_SSE_QUEUE_SIZE,
    metrics,
    log,
    interactions,
    onContainerEvent: platform.forget,
    ...(durable ? { durable } : {}),
  });
  const transport = config.BEACON_NATS_URL ? createNatsTransport(events.bus) : createHttpTransport(platform);
  const dispatcher = createDispatcher({
    platform,
    ledger: events.ledger,
    transport,
    timeoutMs: config.BEACON_DISPATCH_TIMEOUT * 1000,
    tracing,
  });
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
  const prune = () =>
    events.tasks
      .prune(new Date(Date.now() - config.BEACON_TASK_RETENTION * 86_400_000))
      .catch((err) => log.error({ event: 'gateway.prune_failed', err: String(err) }, 'old tasks not pruned'));
  let pruning: Timer | undefined;
  let sweeping: Timer | undefined;

  const parts = {
    ...basics,
    metrics,
    probes: [
      databaseProbe(store),
      diskProbe(config.BEACON_DATA_DIR),
      diskProbe(interactions.dir, 'interaction_log_disk'),
      { name: 'interaction_log', check: async () => interactions.check() },
      { name: 'platform', required: true, check: platform.check },
      ...events.probes,
      ...(artifactMode === 'off' ? [] : [{ name: 'artifacts', check: artifactStore.check }]),
      ...reporting.probes,
    ],
    sse: events.sse,
    tasks: events.tasks,
    alertToken: config.BEACON_ALERT_TOKEN ?? config.BEACON_ADMIN_TOKEN,
    runbookBase: config.BEACON_RUNBOOK_URL,
    dispatcher,
    interactions,
    adminToken: config.BEACON_ADMIN_TOKEN,
    ...(config.BEACON_API_TOKEN ? { apiToken: config.BEACON_API_TOKEN } : {}),
    audit: createAuditTrail(store, log),
    artifacts: { store: artifactStore, mode: artifactMode, maxBytes: config.BEACON_ARTIFACT_MAX_BYTES },
    ...(upgradeWebSocket ? { upgradeWebSocket } : {}),
    events,
  } satisfies GatewayDeps & Record<string, unknown>;
  return {
    app: createApp({ ...parts, ...basics.exposure }),
    parts,
    /**
     * Migrations applied; tasks a restart cut off over HTTP end as interrupted (on a shared database only those
     * past the dispatch timeout: the others may be another gateway's; over NATS their result may still come).
     * Then, every minute (or dispatch timeout, if shorter), tasks still running past the dispatch timeout —
     * their gateway stopped or was killed — end as interrupted, whichever gateway finds them; stored tasks past
     * the retention go, hourly.
     */
    async start() {
      await store.ready;
      const shared = store.dialect === 'postgres';
      const timeoutMs = config.BEACON_DISPATCH_TIMEOUT * 1000;
      if (transport.name === 'http') {
        const before = new Date(Date.now() - (shared ? timeoutMs : 0));
        const interrupted = await events.tasks.closeStale(
          before,
          'the gateway restarted while this task ran',
        );
        if (interrupted)
          log.warn({ event: 'gateway.tasks_interrupted', tasks: interrupted }, 'tasks cut off by a restart');
      }
      const sweep = async () => {
        const stale = await events.tasks
          .closeStale(
            new Date(Date.now() - timeoutMs - 1000),
            'no gateway followed this task to its end (its gateway stopped)',
          )
          .catch((err: unknown) => {
            log.warn({ event: 'gateway.sweep_failed', err: String(err) }, 'stale tasks not swept');
            return 0;
          });
        if (stale) log.warn({ event: 'gateway.tasks_interrupted', tasks: stale }, 'stale tasks ended');
      };
      sweeping = setInterval(sweep, Math.max(1000, Math.min(60_000, timeoutMs)));
      sweeping.unref();
      await prune();
      pruning = setInterval(prune, 3_600_000);
      pruning.unref();
    },
    stop: {
      streams: () => events.sse.close(),
      steps: [
        () => clearInterval(pruning),
        () => clearInterval(sweeping),
        () => events.stop(),
        store.close,
        ...reporting.stopSteps,
      ],
    },
  } satisfies Service<typeof parts>;
}
