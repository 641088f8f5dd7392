import {
  createServiceApp,
  type Logger,
  type MetricsExposure,
  type Probe,
  type ServiceIdentity,
} from '@beacon/core';
import type { Hono } from 'hono';
import type { Registry } from 'prom-client';
import type { ProxyServices } from './deps';
import { adminRoutes } from './routes/admin';
import { aiRoutes } from './routes/ai';

export interface ProxyDeps extends MetricsExposure {
  identity: ServiceIdentity;
  registry: Registry;
  log: Logger;
  adminToken?: string | undefined;
  probes?: Probe[];
  /** What createDeps built; without it the app answers only the shared routes (the metrics tests). */
  services?: Omit<ProxyServices, 'start' | 'stopSteps'>;
}

export function createApp(deps: ProxyDeps): Hono {
  const { services, adminToken } = deps;
  const app = createServiceApp({ ...deps, probes: [...(deps.probes ?? []), ...(services?.probes ?? [])] });
  if (!services) return app;
  app.route('/', aiRoutes(services));
  app.route('/', adminRoutes({ ...services, adminToken }));
  return app;
}
