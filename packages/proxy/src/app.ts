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
import type { KeyStore } from './keys';
import type { QuotaGuard } from './quotas/guard';
import type { Recorder } from './recorder';
import { keyRoutes, quotaRoutes, usageRoutes } from './routes/admin';
import { type AiRoutesDeps, aiRoutes } from './routes/ai';
import { priceRoutes } from './routes/prices';
import type { UsageStore } from './usage-store';

export interface ProxyDeps extends MetricsExposure {
  identity: ServiceIdentity;
  registry: Registry;
  log: Logger;
  adminToken?: string | undefined;
  probes?: Probe[];
  /** The AI surface and the admin API; without them the app answers only the shared routes. */
  ai?: AiRoutesDeps;
  /** Knows the models called without a price (GET /api/prices?unpriced=true). */
  recorder?: Pick<Recorder, 'unpriced'>;
  usage?: UsageStore;
  keys?: KeyStore;
  quotas?: QuotaGuard;
  audit?: AuditTrail;
}

export function createApp(deps: ProxyDeps): Hono {
  // Prompts carry images and long contexts inline: larger than the other services' 1 MiB.
  const app = createServiceApp({ ...deps, maxBodyBytes: 32 * 1024 * 1024 });
  const { ai, usage, keys, quotas, audit, adminToken, recorder } = deps;
  if (ai) app.route('/v1', aiRoutes(ai));
  if (ai && recorder) app.route('/api/prices', priceRoutes({ prices: ai.prices, recorder, adminToken }));
  if (usage && keys && quotas && audit) {
    const admin = { usage, keys, quotas, audit, adminToken };
    app.route('/api/audit', audit.routes(adminAuth(adminToken)));
    app.route('/api/keys', keyRoutes(admin));
    app.route('/api/quotas', quotaRoutes(admin));
    app.route('/api/usage', usageRoutes(admin));
  }
  return app;
}
