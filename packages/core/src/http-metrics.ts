import type { Hono } from 'hono';
import { getPath } from 'hono/utils/url';
import type { Registry } from 'prom-client';
import { unmatchedResponses } from './errors';

export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Series {
  labels: { method: string; route: string; status: string };
  count: number;
  sum: number;
  buckets: Float64Array;
}

type MatchedRoute = { path: string; method: string };
type RouterMatch = [[[unknown, MatchedRoute], unknown][], unknown];

/**
 * http_requests_total and http_request_duration_seconds, labelled by the matched route pattern.
 *
 * Why not a Hono middleware with prom-client's Counter/Histogram: a middleware forces Hono off its
 * single-handler fast path (≈15% of throughput), and prom-client hashes the label set on every
 * inc/observe. Instead the app's fetch is wrapped, the route comes from the app's own router, and
 * plain numbers per series are turned into Prometheus samples only when /metrics is scraped.
 */
export function instrumentHttp(app: Hono, registry: Registry, buckets = HTTP_DURATION_BUCKETS): void {
  // Every app served on one registry counts into the same series (the metrics exist once per registry).
  let series = seriesByRegistry.get(registry);
  if (!series) {
    series = new Map<string, Series>();
    seriesByRegistry.set(registry, series);
    registerHttpMetrics(registry, series, buckets);
  }
  const inner = app.fetch;
  const match = (method: string, path: string) =>
    (app.router.match(method === 'HEAD' ? 'GET' : method, path) as unknown as RouterMatch)[0];

  const routeOf = (req: Request, res: Response): string => {
    if (res.status === 404 && unmatchedResponses.has(res)) return 'unmatched';
    const routes = match(req.method, getPath(req));
    // The last route that is not an all-methods middleware is the handler that answered.
    for (let i = routes.length - 1; i >= 0; i--) {
      const route = (routes[i] as [[unknown, MatchedRoute], unknown])[0][1];
      if (route.method !== 'ALL') return route.path;
    }
    return 'unmatched';
  };

  const record = (req: Request, res: Response, start: number): Response => {
    const seconds = (performance.now() - start) / 1000;
    const route = routeOf(req, res);
    const key = `${req.method} ${res.status} ${route}`;
    let s = series.get(key);
    if (s === undefined) {
      s = {
        labels: { method: req.method, route, status: String(res.status) },
        count: 0,
        sum: 0,
        buckets: new Float64Array(buckets.length),
      };
      series.set(key, s);
    }
    s.count++;
    s.sum += seconds;
    for (let i = 0; i < buckets.length; i++) {
      if (seconds <= (buckets[i] as number)) {
        (s.buckets[i] as number)++;
        break;
      }
    }
    return res;
  };

  app.fetch = (request, ...rest) => {
    const start = performance.now();
    const res = inner(request, ...rest);
    return res instanceof Promise ? res.then((r) => record(request, r, start)) : record(request, res, start);
  };
}

const seriesByRegistry = new WeakMap<Registry, Map<string, Series>>();

function registerHttpMetrics(registry: Registry, series: Map<string, Series>, buckets: number[]) {
  registry.registerMetric({
    name: 'http_requests_total',
    get: () => ({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, matched route pattern and status.',
      type: 'counter',
      aggregator: 'sum',
      values: [...series.values()].map((s) => ({ labels: s.labels, value: s.count })),
    }),
  } as never);

  // Refused credentials (brute force shows here): 401 no or an unknown credential, 403 a wrong one.
  const REFUSED: Record<string, string> = { '401': 'unauthenticated', '403': 'forbidden' };
  registry.registerMetric({
    name: 'http_auth_refused_total',
    get: () => {
      const totals = new Map<string, { labels: { route: string; reason: string }; value: number }>();
      for (const s of series.values()) {
        const reason = REFUSED[s.labels.status];
        if (!reason) continue;
        const key = `${s.labels.route} ${reason}`;
        const t = totals.get(key) ?? { labels: { route: s.labels.route, reason }, value: 0 };
        t.value += s.count;
        totals.set(key, t);
      }
      return {
        name: 'http_auth_refused_total',
        help: 'Requests refused for their credentials, by matched route and reason (unauthenticated, forbidden).',
        type: 'counter',
        aggregator: 'sum',
        values: [...totals.values()],
      };
    },
  } as never);

  registry.registerMetric({
    name: 'http_request_duration_seconds',
    get: () => ({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration in seconds, by method, matched route pattern and status.',
      type: 'histogram',
      aggregator: 'sum',
      values: [...series.values()].flatMap((s) => {
        let cumulative = 0;
        const out = buckets.map((le, i) => {
          cumulative += s.buckets[i] as number;
          return {
            metricName: 'http_request_duration_seconds_bucket',
            labels: { ...s.labels, le },
            value: cumulative,
          };
        });
        out.push({
          metricName: 'http_request_duration_seconds_bucket',
          labels: { ...s.labels, le: '+Inf' } as never,
          value: s.count,
        });
        return [
          ...out,
          { metricName: 'http_request_duration_seconds_sum', labels: s.labels as never, value: s.sum },
          { metricName: 'http_request_duration_seconds_count', labels: s.labels as never, value: s.count },
        ];
      }),
    }),
  } as never);
}
