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
import type { ProxyClient } from './clients/proxy';
import type { ContainerService } from './containers';
import type { PlatformEvents } from './events';
import type { PlatformMetrics } from './metrics';
import type { Pools } from './pools';
import { adminRoutes } from './routes/admin';
import { containerRoutes } from './routes/containers';
import { poolRoutes } from './routes/pools';
import type { StatsCollector } from './stats-collector';

export interface PlatformDeps extends MetricsExposure {
  identity: ServiceIdentity;
  registry: Registry;
  metrics: PlatformMetrics;
  log: Logger;
  adminToken?: string;
  probes?: Probe[];
  docker?: DockerClient;
  containers?: ContainerService;
  stats?: Pick<StatsCollector, 'latest'>;
  events?: PlatformEvents;
  pools?: Pools;
  /** Records every mutation (GET /api/audit); without it (route tests) nothing is recorded. */
  audit?: AuditTrail;
  /** Today's AI cost per container, for the admin page. */
  proxy?: Pick<ProxyClient, 'costByHandle'>;
  grafanaUrl?: string;
}

export function createApp(deps: PlatformDeps): Hono {
  const { docker, containers } = deps;
  const probes: Probe[] = [...(deps.probes ?? [])];
  if (docker) probes.push({ name: 'docker', required: true, timeoutMs: 2000, check: () => docker.ping() });
  const app = createServiceApp({ ...deps, probes });
  const { events } = deps;
  if (events)
    app.get('/api/events', adminAuth(deps.adminToken), (c) =>
      events.sse.connect(c.req.header('last-event-id'), c.req.raw.signal),
    );
  const audited = deps.audit?.audited ?? unaudited;
  if (deps.audit) app.route('/', deps.audit.routes(adminAuth(deps.adminToken)));
  if (deps.pools) app.route('/', poolRoutes({ pools: deps.pools, audited, adminToken: deps.adminToken }));
  if (docker && containers) {
    const stats = deps.stats ?? { latest: () => undefined };
    app.route(
      '/',
      adminRoutes({
        containers,
        registry: deps.registry,
        stats,
        log: deps.log,
        ...(deps.proxy ? { proxy: deps.proxy } : {}),
        grafanaUrl: deps.grafanaUrl ?? 'http://localhost:3200',
        ...(deps.adminToken ? { adminToken: deps.adminToken } : {}),
      }),
    );
    app.route(
      '/',
      containerRoutes({
        containers,
        docker,
        stats,
        audited,
        ...(deps.adminToken ? { adminToken: deps.adminToken } : {}),
      }),
    );
  }
  return app;
}
