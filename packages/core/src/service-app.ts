import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { requestId } from 'hono/request-id';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { setActor, tokenActor } from './audit';
import { AppError, createOnError, notFound } from './errors';
import { healthRoutes, type Probe, type ServiceIdentity } from './health';
import { instrumentHttp } from './http-metrics';
import { metricsHandler, presentedToken, secretMatches } from './metrics';
import { type AuthThrottle, createAuthThrottle, siteGuard, sourceOf } from './site-guard';

/** Bad credentials one source may send per minute before it gets 429s (docs/security.md). */
export const AUTH_FAILURES_PER_MINUTE = 30;

/**
 * How a service is exposed: /metrics (BEACON_METRICS_TOKEN, BEACON_METRICS_PATH, BEACON_METRICS_ENABLED) and
 * who may reach it from a browser (BEACON_ALLOWED_HOSTS, BEACON_ALLOWED_ORIGINS).
 */
export interface MetricsExposure {
  metricsToken?: string;
  metricsPath?: string;
  metricsEnabled?: boolean;
  allowedHosts?: string[];
  allowedOrigins?: string[];
}

export interface ServiceAppOptions extends MetricsExposure {
  identity: ServiceIdentity;
  registry: Registry;
  log: Logger;
  probes?: Probe[];
  /** Paths whose write bodies are not JSON (the gateway's artifact uploads); they keep their own size limit. */
  rawBodyPaths?: string[];
  /** The largest request body (413 past it), read before any of it is parsed. */
  maxBodyBytes?: number;
}

/** The bad-credential throttle of the app a request reached. */
const throttleOf = (c: Context): AuthThrottle | undefined => c.get('authThrottle' as never);

/**
 * A refused credential, counted against its source (tokenAuth and the proxy's key check): throws the 429 once
 * the source is past its bad credentials for the minute.
 */
export function countRefusal(c: Context) {
  const throttle = throttleOf(c);
  const source = sourceOf(c);
  throttle?.check(source);
  throttle?.failed(source);
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
  allowedHosts,
  allowedOrigins,
  rawBodyPaths = [],
  maxBodyBytes = 1024 * 1024,
}: ServiceAppOptions): Hono {
  const app = new Hono();
  instrumentHttp(app, registry);
  app.use(requestId());
  app.onError(createOnError(log));
  const throttle = createAuthThrottle(AUTH_FAILURES_PER_MINUTE);
  app.use(async (c, next) => {
    c.set('authThrottle' as never, throttle as never);
    await next();
  });
  app.use(siteGuard({ allowedHosts, allowedOrigins, rawBodyPaths }));
  const limit = bodyLimit({
    maxSize: maxBodyBytes,
    onError: () => {
      throw new AppError('payload_too_large', `body: over the ${maxBodyBytes}-byte limit`);
    },
  });
  app.use((c, next) => (rawBodyPaths.some((p) => c.req.path.startsWith(p)) ? next() : limit(c, next)));
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
      if (presented === undefined || !secretMatches(presented, token)) {
        // The right token always passes; a source sending wrong ones is slowed.
        countRefusal(c);
        // The Basic challenge lets a browser open a page (the token as password, any user name).
        if (presented === undefined)
          throw new AppError('unauthorized', `this route needs the ${name}`, {
            'www-authenticate': 'Basic realm="beacon"',
          });
        throw new AppError('forbidden', `wrong ${name}`);
      }
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
