import { Hono, type MiddlewareHandler } from 'hono';
import { requestId } from 'hono/request-id';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { setActor, tokenActor } from './audit';
import { AppError, createOnError, notFound } from './errors';
import { healthRoutes, type Probe, type ServiceIdentity } from './health';
import { instrumentHttp } from './http-metrics';
import { metricsHandler, presentedToken, secretMatches } from './metrics';

/** How /metrics is served: BEACON_METRICS_TOKEN, BEACON_METRICS_PATH (default /metrics), BEACON_METRICS_ENABLED. */
export interface MetricsExposure {
  metricsToken?: string;
  metricsPath?: string;
  metricsEnabled?: boolean;
}

export interface ServiceAppOptions extends MetricsExposure {
  identity: ServiceIdentity;
  registry: Registry;
  log: Logger;
  probes?: Probe[];
}

/** The routes and behaviour every Beacon service shares (docs/observability.md); services add their own. */
export function createServiceApp({
  identity,
  registry,
  log,
  probes = [],
  metricsToken,
  metricsPath = '/metrics',
  metricsEnabled = true,
}: ServiceAppOptions): Hono {
  const app = new Hono();
  instrumentHttp(app, registry);
  app.use(requestId());
  app.onError(createOnError(log));
  app.notFound(notFound);
  if (metricsEnabled) app.get(metricsPath, metricsHandler(registry, metricsToken));
  app.route('/', healthRoutes(identity, probes));
  return app;
}

/**
 * Routes behind a token: `Authorization: Bearer <token>` or Basic with the token as password (401 without,
 * 403 wrong). With `query`, a `?token=` also counts: browsers cannot set headers on EventSource or WebSocket.
 * No token configured: everyone passes.
 */
export function tokenAuth(
  token: string | undefined,
  {
    name = 'admin token',
    role = 'admin-token',
    query = false,
  }: { name?: string; role?: string; query?: boolean } = {},
): MiddlewareHandler {
  // The audit trail names the token by role and fingerprint, never by value.
  const actor = token ? tokenActor(role, token) : role;
  return async (c, next) => {
    if (token) {
      const presented =
        presentedToken(c.req.header('authorization')) ?? (query ? c.req.query('token') : undefined);
      // The Basic challenge lets a browser open a page (the token as password, any user name).
      if (presented === undefined)
        throw new AppError('unauthorized', `this route needs the ${name}`, {
          'www-authenticate': 'Basic realm="beacon"',
        });
      if (!secretMatches(presented, token)) throw new AppError('forbidden', `wrong ${name}`);
      setActor(c, actor);
    }
    await next();
  };
}

/**
 * Admin routes: `Authorization: Bearer <BEACON_ADMIN_TOKEN>` (401 without, 403 wrong).
 * With no token the service listens on loopback only (config enforces it), so local callers pass.
 */
export const adminAuth = (token: string | undefined) => tokenAuth(token);
