import { AppError, adminAuth, isoDateTime as iso, parseWith } from '@beacon/core';
import { Hono } from 'hono';
import { z } from 'zod';
import type { ProxyClient } from '../clients/proxy';
import { lastDays, splitCosts } from '../domain/console-rows';
import { defaultStep, minuteView, sampleView, timeWindow } from '../domain/history';
import { handleSchema } from '../domain/spec';
import type { ContainerService } from '../lifecycle/containers';
import type { History } from '../observe/history';

export interface HistoryRoutesDeps {
  history: History;
  containers: Pick<ContainerService, 'find'>;
  proxy?: Pick<ProxyClient, 'costByDay'>;
  pools: string[];
  /** Raw samples are kept this long: a raw range may not be longer. */
  rawMs: number;
  adminToken?: string;
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
const rangeQuery = z.object({ from: iso.optional(), to: iso.optional(), step: step.optional() });

/** from/to as epoch ms (defaults: the last `fallbackMs` until now). */
const range = (q: { from?: string | undefined; to?: string | undefined }, fallbackMs: number) =>
  timeWindow(q.from ? Date.parse(q.from) : undefined, q.to ? Date.parse(q.to) : undefined, fallbackMs, {
    start: 'from',
    end: 'query.to',
  });

/** Resource history per container and for the fleet, and AI cost per container (or tenant) per day. */
export function historyRoutes({ history, containers, proxy, pools, rawMs, adminToken }: HistoryRoutesDeps) {
  const app = new Hono();
  app.use('/api/metrics/*', adminAuth(adminToken));
  app.use('/api/costs', adminAuth(adminToken));
  // /api/containers/* is guarded by the container routes.

  app.get('/api/containers/:handle/metrics', adminAuth(adminToken), (c) => {
    const handle = parseWith(handleSchema, c.req.param('handle'), 'handle');
    const q = parseWith(rangeQuery, c.req.query(), 'query');
    const { from, to } = range(q, HOUR);
    if (!containers.find(handle) && !history.has(handle))
      throw new AppError('not_found', `no container or history for ${handle}`);
    const chosen = q.step ?? defaultStep(from, to);
    if (chosen === 'raw') {
      if (to - from > rawMs)
        throw new AppError(
          'bad_request',
          `query.step: raw samples are kept ${rawMs / HOUR} h; ask for a step over a longer range`,
        );
      return c.json({ handle, step: 'raw', samples: history.raw(handle, from, to).map(sampleView) });
    }
    return c.json({
      handle,
      step: `${chosen / 1000}s`,
      samples: history.minutes(handle, from, to, chosen).map(minuteView),
    });
  });

  app.get('/api/metrics/summary', (c) => {
    const q = parseWith(rangeQuery.omit({ step: true }), c.req.query(), 'query');
    const { from, to } = range(q, HOUR);
    const rows = history.summary(from, to);
    return c.json({
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      containers: rows.map((r) => ({ ...r, lastAt: new Date(r.lastAt).toISOString() })),
      fleet: {
        containers: rows.length,
        cpuPercentAvg: rows.reduce((a, r) => a + (r.cpuPercentAvg ?? 0), 0),
        memoryBytesAvg: rows.reduce((a, r) => a + r.memoryBytesAvg, 0),
      },
    });
  });

  app.get('/api/costs', async (c) => {
    const days = z.coerce.number().int().min(1).max(366).default(7);
    const { days: count } = parseWith(z.object({ days }), c.req.query(), 'query');
    if (!proxy) throw new AppError('unavailable', 'no proxy configured (BEACON_PROXY_URL)');
    const window = lastDays(count);
    const rows = await proxy.costByDay(new Date(`${window[0]}T00:00:00Z`));
    return c.json({ days: window, ...splitCosts(rows, pools) });
  });
  return app;
}
