import {
  type AuditTrail,
  adminAuth,
  createServiceApp,
  type Logger,
  type MetricsExposure,
  type Probe,
  type ServiceIdentity,
} from '@beacon/core';
import type { Hono } from 'hono';
import type { Registry } from 'prom-client';
import type { PriceTable } from './domain/prices';
import type { Forwarder } from './forward/forwarder';
import type { KeyStore } from './keys';
import type { QuotaGuard } from './quotas/guard';
import { keyRoutes, quotaRoutes, usageRoutes } from './routes/admin';
import { aiRoutes } from './routes/ai';
import type { UsageStore } from './usage-store';

export interface ProxyDeps extends MetricsExposure {
  identity: ServiceIdentity;
  registry: Registry;
  log: Logger;
  adminToken?: string | undefined;
  probes?: Probe[];
  /** The AI surface and the admin API; without them the app answers only the shared routes. */
  forwarder?: Forwarder;
  prices?: PriceTable;
  usage?: UsageStore;
  keys?: KeyStore;
  quotas?: QuotaGuard;
  audit?: AuditTrail;
}

export function createApp(deps: ProxyDeps): Hono {
  const app = createServiceApp(deps);
  const { forwarder, prices, usage, keys, quotas, audit, adminToken } = deps;
  if (forwarder && prices) app.route('/v1', aiRoutes({ forwarder, prices }));
  if (usage && keys && quotas && audit) {
    const admin = { usage, keys, quotas, audit, adminToken };
    app.route('/api/audit', audit.routes(adminAuth(adminToken)));
    app.route('/api/keys', keyRoutes(admin));
    app.route('/api/quotas', quotaRoutes(admin));
    app.route('/api/usage', usageRoutes(admin));
  }
  return app;
}
