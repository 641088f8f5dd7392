import {
  type AuditTrail,
  adminAuth,
  createServiceApp,
  type Logger,
  type MetricsExposure,
  type Probe,
  type ServiceIdentity,
  unaudited,
} from '@beacon/core';
import type { Hono } from 'hono';
import type { Registry } from 'prom-client';
import type { DockerClient } from './clients/docker';
import type { GatewayClient } from './clients/gateway';
import type { SessionSummaries } from './clients/langfuse';
import type { ProxyClient } from './clients/proxy';
import type { Fleet } from './fleet';
import type { ContainerService } from './lifecycle/containers';
import type { PlatformEvents } from './lifecycle/events';
import type { PlatformMetrics } from './metrics';
import type { Console } from './observe/console-view';
import type { History } from './observe/history';
import type { LogSearch } from './observe/log-search';
import type { StatsCollector } from './observe/stats-collector';
import type { Pools } from './pools/pools';
import { adminRoutes } from './routes/admin';
import { containerRoutes, logRoutes } from './routes/containers';
import { fleetForwarding, hostRoutes } from './routes/fleet';
import { containerMetricRoutes, costRoutes, fleetMetricRoutes } from './routes/history';
import { poolRoutes } from './routes/pools';
import { runbookRoutes } from './routes/runbook';

export interface PlatformDeps extends MetricsExposure {
  identity: ServiceIdentity;
  registry: Registry;
  metrics: PlatformMetrics;
  log: Logger;
  adminToken?: string | undefined;
  probes?: Probe[];
  docker?: DockerClient;
  containers?: ContainerService;
  stats?: Pick<StatsCollector, 'latest'>;
  events?: PlatformEvents;
  pools?: Pools;
  /** Records every mutation (GET /api/audit); without it (route tests) nothing is recorded. */
  audit?: AuditTrail;
  /** AI cost per container and day, for the console and GET /api/costs. */
  proxy?: Pick<ProxyClient, 'costByDay'>;
  /** Alerts and dispatches, for the console. */
  gateway?: GatewayClient;
  /** Resource history (GET /api/containers/:handle/metrics, /api/metrics/summary) and its raw retention. */
  history?: History;
  historyRawMs?: number;
  /** The console's fleet view and stream (GET /admin…). */
  console?: Console;
  grafanaUrl?: string;
  /** Several Docker hosts on one database: the fleet's list, placement and forwarding. */
  fleet?: Fleet;
  /** GET /api/logs: Loki's when configured, else the engine's. */
  logSearch?: LogSearch;
  /** With Langfuse configured: the session summary in GET /api/containers/:handle. */
  sessions?: SessionSummaries;
}

export function createApp(deps: PlatformDeps): Hono {
  const { docker, containers, adminToken } = deps;
  const probes: Probe[] = [...(deps.probes ?? [])];
  if (docker) probes.push({ name: 'docker', required: true, timeoutMs: 2000, check: () => docker.ping() });
  const app = createServiceApp({ ...deps, probes });
  const { events, audit, pools, fleet, history, logSearch } = deps;
  if (events)
    app.get('/api/events', adminAuth(adminToken), (c) =>
      events.sse.connect(c.req.header('last-event-id'), c.req.raw.signal),
    );
  const audited = audit?.audited ?? unaudited;
  app.route('/docs/runbook', runbookRoutes());
  if (audit) app.route('/api/audit', audit.routes(adminAuth(adminToken)));
  if (pools) app.route('/api/pools', poolRoutes({ pools, audited, adminToken }));
  if (!containers) return app;
  if (deps.console)
    app.route(
      '/admin',
      adminRoutes({
        containers,
        registry: deps.registry,
        console: deps.console,
        grafanaUrl: deps.grafanaUrl ?? 'http://localhost:3200',
        ...(deps.gateway ? { gateway: deps.gateway } : {}),
        ...(adminToken ? { adminToken } : {}),
      }),
    );
  if (fleet) {
    app.route('/api/containers', fleetForwarding({ fleet, containers, adminToken }));
    app.route('/api/hosts', hostRoutes({ fleet, adminToken }));
  }
  const stats = deps.stats ?? { latest: () => undefined };
  app.route(
    '/api/containers',
    containerRoutes({ containers, stats, audited, sessions: deps.sessions, events, adminToken }),
  );
  if (logSearch) app.route('/api/logs', logRoutes({ logSearch, adminToken }));
  if (history) {
    const historyDeps = {
      history,
      containers,
      pools: pools?.list().map((p) => p.name) ?? [],
      rawMs: deps.historyRawMs ?? 24 * 3_600_000,
      proxy: deps.proxy,
      adminToken,
    };
    app.route('/api/containers', containerMetricRoutes(historyDeps));
    app.route('/api/metrics', fleetMetricRoutes(historyDeps));
    app.route('/api/costs', costRoutes(historyDeps));
  }
  return app;
}
