import { AppError, adminAuth, failure, isoDateTime as iso, jsonAnswer, openRouter } from '@beacon/core';
import { createRoute, z } from '@hono/zod-openapi';
import type { ProxyClient } from '../clients/proxy';
import { lastDays, splitCosts } from '../domain/console-rows';
import { defaultStep, minuteView, sampleView, timeWindow } from '../domain/history';
import { handleSchema } from '../domain/spec';
import type { ContainerService } from '../lifecycle/containers';
import type { History } from '../observe/history';

export interface HistoryRoutesDeps {
  history: History;
  containers: Pick<ContainerService, 'find'>;
  proxy?: Pick<ProxyClient, 'costByDay'> | undefined;
  pools: string[];
  /** Raw samples are kept this long: a raw range may not be longer. */
  rawMs: number;
  adminToken?: string | undefined;
}

const HOUR = 3_600_000;
/** `raw`, or a step of whole minutes: 60, 300s, 5m, 1h. */
const step = z
  .string()
  .regex(/^(raw|\d+[smh]?)$/, 'must be raw or a duration in whole minutes (60, 300s, 5m, 1h)')
  .transform((v) => {
    if (v === 'raw') return 'raw' as const;
    const n = Number.parseInt(v, 10);
    return n * ({ h: 3_600_000, m: 60_000, s: 1000 }[v.slice(-1)] ?? 1000);
  })
  .refine(
    (v) => v === 'raw' || (v >= 60_000 && v % 60_000 === 0),
    'must be raw or whole minutes (at least 60 s)',
  );
const rangeQuery = z.object({ from: iso.optional(), to: iso.optional() });

/** from/to as epoch ms (defaults: the last hour until now). */
const range = (q: { from?: string | undefined; to?: string | undefined }) =>
  timeWindow(q.from ? Date.parse(q.from) : undefined, q.to ? Date.parse(q.to) : undefined, HOUR, {
    start: 'from',
    end: 'query.to',
  });

const containerMetrics = createRoute({
  method: 'get',
  path: '/{handle}/metrics',
  request: {
    params: z.object({ handle: handleSchema }),
    query: rangeQuery.extend({ step: step.optional() }),
  },
  responses: {
    200: jsonAnswer(
      z.object({ handle: z.string(), step: z.string(), samples: z.array(z.looseObject({})) }),
      'raw samples, or per-step aggregates (default: the step that fits the range)',
    ),
    400: failure('a field is wrong, or raw samples asked for past their retention'),
    404: failure('no container or history for that handle'),
  },
});
const summary = createRoute({
  method: 'get',
  path: '/summary',
  request: { query: rangeQuery },
  responses: {
    200: jsonAnswer(
      z.object({
        from: z.string(),
        to: z.string(),
        containers: z.array(z.looseObject({ handle: z.string() })),
        fleet: z.object({ containers: z.number(), cpuPercentAvg: z.number(), memoryBytesAvg: z.number() }),
      }),
      'averages and peaks per container over the range, and the fleet',
    ),
    400: failure('a query field is wrong'),
  },
});
const costs = createRoute({
  method: 'get',
  path: '/',
  request: { query: z.object({ days: z.coerce.number().int().min(1).max(366).default(7) }) },
  responses: {
    200: jsonAnswer(
      z.object({
        days: z.array(z.string()),
        containers: z.array(z.looseObject({ handle: z.string() })),
        tenants: z.array(z.looseObject({ pool: z.string(), tenant: z.string() })),
        unattributed: z.looseObject({ totalUsd: z.number() }),
      }),
      'AI cost per container (per tenant for pooled ones) and day',
    ),
    400: failure('a query field is wrong'),
    503: failure('no proxy configured, or it did not answer'),
  },
});

/** GET /api/containers/{handle}/metrics: one container's resource history (admin token). */
export function containerMetricRoutes({ history, containers, rawMs, adminToken }: HistoryRoutesDeps) {
  return openRouter(adminAuth(adminToken)).openapi(containerMetrics, (c) => {
    const { handle } = c.req.valid('param');
    const q = c.req.valid('query');
    const { from, to } = range(q);
    if (!containers.find(handle) && !history.has(handle))
      throw new AppError('not_found', `no container or history for ${handle}`);
    const chosen = q.step ?? defaultStep(from, to);
    if (chosen === 'raw') {
      if (to - from > rawMs)
        throw new AppError(
          'bad_request',
          `query.step: raw samples are kept ${rawMs / HOUR} h; ask for a step over a longer range`,
        );
      return c.json({ handle, step: 'raw', samples: history.raw(handle, from, to).map(sampleView) }, 200);
    }
    return c.json(
      {
        handle,
        step: `${chosen / 1000}s`,
        samples: history.minutes(handle, from, to, chosen).map(minuteView),
      },
      200,
    );
  });
}

/** GET /api/metrics/summary: the fleet's resource history (admin token). */
export function fleetMetricRoutes({ history, adminToken }: HistoryRoutesDeps) {
  return openRouter(adminAuth(adminToken)).openapi(summary, (c) => {
    const { from, to } = range(c.req.valid('query'));
    const rows = history.summary(from, to);
    return c.json(
      {
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        containers: rows.map((r) => ({ ...r, lastAt: new Date(r.lastAt).toISOString() })),
        fleet: {
          containers: rows.length,
          cpuPercentAvg: rows.reduce((a, r) => a + (r.cpuPercentAvg ?? 0), 0),
          memoryBytesAvg: rows.reduce((a, r) => a + r.memoryBytesAvg, 0),
        },
      },
      200,
    );
  });
}

/** GET /api/costs: AI cost per container (or tenant) per day, from the proxy (admin token). */
export function costRoutes({ proxy, pools, adminToken }: HistoryRoutesDeps) {
  return openRouter(adminAuth(adminToken)).openapi(costs, async (c) => {
    if (!proxy) throw new AppError('unavailable', 'no proxy configured (BEACON_PROXY_URL)');
    const window = lastDays(c.req.valid('query').days);
    const rows = await proxy.costByDay(new Date(`${window[0]}T00:00:00Z`));
    return c.json({ days: window, ...splitCosts(rows, pools) }, 200);
  });
}
