import {
  type AuditTrail,
  adminAuth,
  createServiceApp,
  type Logger,
  type MetricsExposure,
  type Probe,
  type ServiceIdentity,
  type SseBroadcaster,
  tokenAuth,
  unaudited,
} from '@beacon/core';
import type { Hono } from 'hono';
import type { UpgradeWebSocket } from 'hono/ws';
import type { Registry } from 'prom-client';
import type { Dispatcher } from './dispatcher';
import type { InteractionLogger } from './interaction-logger';
import type { GatewayMetrics } from './metrics';
import { alertRoutes } from './routes/alerts';
import { ARTIFACTS_PREFIX, type ArtifactDeps, artifactRoutes } from './routes/artifacts';
import { eventRoutes, taskRoutes } from './routes/events';
import { interactionRoutes } from './routes/interactions';
import { messageRoutes, shellRoutes } from './routes/message';
import type { TaskStore } from './tasks';

export interface GatewayDeps extends MetricsExposure {
  identity: ServiceIdentity;
  registry: Registry;
  metrics: GatewayMetrics;
  log: Logger;
  probes?: Probe[];
  /** Event side (SSE, tasks, alerts); absent in tests of the shared routes only. */
  sse?: SseBroadcaster;
  tasks?: TaskStore;
  alertToken?: string;
  /** BEACON_RUNBOOK_URL: the base of the alerts' runbook links. */
  runbookBase?: string | undefined;
  dispatcher?: Dispatcher;
  upgradeWebSocket?: UpgradeWebSocket;
  artifacts?: Omit<ArtifactDeps, 'metrics' | 'log' | 'audited' | 'userAuth'>;
  /** Records artifact writes and deletes (GET /api/audit); without it (route tests) nothing is recorded. */
  audit?: AuditTrail;
  interactions?: Pick<InteractionLogger, 'read'>;
  adminToken?: string;
  /** Guards the user API when set (BEACON_API_TOKEN). */
  apiToken?: string;
}

export function createApp(deps: GatewayDeps): Hono {
  // Artifact uploads are files, not JSON.
  const app = createServiceApp({ ...deps, rawBodyPaths: [`${ARTIFACTS_PREFIX}/`] });
  const { sse, tasks, metrics, log } = deps;
  // The user API (what a client calls: the web shell, a bot, an agent); without a token, everyone passes.
  const user = { name: 'API token (BEACON_API_TOKEN)', role: 'api-token' };
  const userAuth = tokenAuth(deps.apiToken, user);
  // Streams a browser opens with EventSource or WebSocket, which cannot send headers: `?token=` counts.
  const streamAuth = tokenAuth(deps.apiToken, { ...user, query: true });
  if (sse && tasks) {
    app.route('/api/events', eventRoutes({ sse, streamAuth }));
    app.route('/api/tasks', taskRoutes({ tasks, userAuth, dispatcher: deps.dispatcher }));
    const alerts = alertRoutes({
      sse,
      metrics,
      log,
      alertToken: deps.alertToken,
      userAuth,
      runbookBase: deps.runbookBase,
    });
    app.route('/api/alert', alerts.receive);
    app.route('/api/alerts', alerts.read);
  }
  const { dispatcher, interactions, upgradeWebSocket, adminToken } = deps;
  if (dispatcher) app.route('/api/message', messageRoutes({ dispatcher, userAuth }));
  if (dispatcher && upgradeWebSocket)
    app.route('/ws', shellRoutes({ dispatcher, metrics, upgradeWebSocket, streamAuth }));
  if (interactions) app.route('/api/interactions', interactionRoutes({ interactions, adminToken }));
  const audited = deps.audit?.audited ?? unaudited;
  if (deps.audit) app.route('/api/audit', deps.audit.routes(adminAuth(adminToken)));
  if (deps.artifacts)
    app.route(ARTIFACTS_PREFIX, artifactRoutes({ ...deps.artifacts, metrics, log, audited, userAuth }));
  return app;
}
