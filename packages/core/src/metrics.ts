import { timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';
import { AppError } from './errors';

/** Constant-time comparison of a presented secret with the expected one. */
export function secretMatches(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Bearer token, or the password of basic auth (Prometheus' basic_auth), or undefined. */
export function presentedToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme, value = ''] = header.split(' ', 2);
  if (scheme?.toLowerCase() === 'bearer') return value;
  if (scheme?.toLowerCase() === 'basic')
    return Buffer.from(value, 'base64').toString().split(':').slice(1).join(':');
  return undefined;
}

/** GET /metrics: the service's own registry, guarded by BEACON_METRICS_TOKEN when set. */
export function metricsHandler(registry: Registry, token?: string) {
  return async (c: Context) => {
    if (token) {
      const presented = presentedToken(c.req.header('authorization'));
      if (presented === undefined) throw new AppError('unauthorized', 'metrics require a bearer token');
      if (!secretMatches(presented, token)) throw new AppError('forbidden', 'wrong metrics token');
    }
    return c.body(await registry.metrics(), 200, { 'content-type': registry.contentType });
  };
}

/** `<service>_info{version} 1` and `<service>_start_time_seconds`. */
export function registerServiceInfo(
  registry: Registry,
  service: string,
  version: string,
  startedAt = Date.now(),
) {
  const info = new Gauge({
    name: `${service}_info`,
    help: `Build information about the ${service}; always 1.`,
    labelNames: ['version'],
    registers: [registry],
  });
  info.set({ version }, 1);
  const start = new Gauge({
    name: `${service}_start_time_seconds`,
    help: `Start time of the ${service} since the Unix epoch, in seconds.`,
    registers: [registry],
  });
  start.set(Math.floor(startedAt / 1000));
}

/** prom-client's gauges that end in _total, which Prometheus conventions (and promtool) reject. */
const MISNAMED_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** Process metrics on the service's registry; call from main.ts only (it starts timers). */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULT_METRICS) registry.removeSingleMetric(name);
}

/**
 * A label whose values come from outside (a user, an alert name): the first `max` distinct values are
 * kept, later ones become `_other`, so the series stay bounded.
 */
export function cappedLabel(max: number): (value: string) => string {
  const seen = new Set<string>();
  return (value) => {
    if (seen.has(value)) return value;
    if (seen.size >= max) return '_other';
    seen.add(value);
    return value;
  };
}
