import { AppError, type AuditTrail, adminAuth, parseJsonBody, parseWith, setAuditTarget } from '@beacon/core';
import { and, count, eq, gte, lt, type SQL, sql, sum } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import type { ProxyDb } from '../db';
import { usage } from '../db/schema/usage';
import type { KeyStore } from '../keys';
import type { QuotaGuard } from '../quotas';
import type { UsageWriter } from '../usage-writer';

const name = z.string().min(1).max(128);
const createKey = z.object({ user: name, handle: name.optional() });
const keysQuery = z.object({ user: name.optional(), handle: name.optional() });
const money = z.number().min(0).max(1_000_000_000).nullable().optional();
const quotaBody = z.object({
  dailyUsd: money,
  monthlyUsd: money,
  requestsPerMinute: z.number().int().positive().max(1_000_000).nullable().optional(),
});
const isoTime = z.union([z.iso.datetime({ offset: true }), z.iso.date()], {
  error: 'must be an ISO date (2026-12-01) or date-time (2026-12-01T09:00:00Z)',
});
const usageQuery = z.object({
  user: name.optional(),
  from: isoTime.optional(),
  to: isoTime.optional(),
  /** One dimension or several, comma-separated (handle,day: cost per container per day). */
  groupBy: z
    .string()
    .default('day')
    .transform((v) => v.split(','))
    .pipe(
      z
        .array(z.enum(['day', 'model', 'user', 'handle']))
        .min(1)
        .max(4),
    ),
});

export function adminRoutes(
  db: ProxyDb,
  writer: UsageWriter,
  keys: KeyStore,
  quotas: QuotaGuard,
  audit: AuditTrail,
  adminToken?: string,
) {
  const app = new Hono();
  app.use('/api/*', adminAuth(adminToken));
  app.route('/', audit.routes(adminAuth(adminToken)));
  app.post('/api/keys', audit.audited('key.mint'), async (c) => {
    const { user, handle } = await parseJsonBody(c, createKey);
    const created = keys.create({ user, handle });
    setAuditTarget(c, `${created.id} (${user})`);
    return c.json(created, 201);
  });
  app.get('/api/keys', (c) => {
    const { user, handle } = parseWith(keysQuery, c.req.query(), 'query');
    return c.json({ keys: keys.list({ user, handle }) });
  });
  app.delete('/api/keys/:id', audit.audited('key.revoke'), (c) => {
    if (!keys.revoke(c.req.param('id')))
      throw new AppError('not_found', `no active key ${c.req.param('id')}`);
    return c.body(null, 204);
  });
  app.put('/api/quotas/:user', audit.audited('quota.set'), async (c) => {
    const user = parseWith(name, c.req.param('user'), 'user');
    return c.json(quotas.set(user, await parseJsonBody(c, quotaBody)));
  });
  app.get('/api/quotas/:user', (c) => c.json(quotas.get(parseWith(name, c.req.param('user'), 'user'))));
  app.get('/api/usage', (c) => {
    const q = parseWith(usageQuery, c.req.query(), 'query');
    writer.flush();
    const where: SQL[] = [];
    if (q.user) where.push(eq(usage.user, q.user));
    if (q.from) where.push(gte(usage.at, new Date(q.from)));
    if (q.to) where.push(lt(usage.at, new Date(q.to)));
    const dimension = {
      day: sql<string>`strftime('%Y-%m-%d', ${usage.at} / 1000, 'unixepoch')`,
      model: sql<string>`${usage.model}`,
      user: sql<string>`${usage.user}`,
      handle: sql<string | null>`${usage.handle}`,
    };
    const keys = Object.fromEntries(q.groupBy.map((d) => [d, dimension[d]]));
    const rows = db
      .select({
        ...keys,
        calls: count(),
        costUsd: sum(usage.costUsd),
        inputTokens: sum(usage.inputTokens),
        outputTokens: sum(usage.outputTokens),
        cacheReadTokens: sum(usage.cacheReadTokens),
        cacheWriteTokens: sum(usage.cacheWriteTokens),
      })
      .from(usage)
      .where(where.length ? and(...where) : undefined)
      .groupBy(...Object.values(keys))
      .orderBy(...Object.values(keys))
      .all();
    return c.json({
      groupBy: q.groupBy.join(','),
      rows: rows.map((r) => ({
        ...Object.fromEntries(q.groupBy.map((d) => [d, r[d as keyof typeof r]])),
        calls: r.calls,
        costUsd: Number(r.costUsd ?? 0),
        inputTokens: Number(r.inputTokens ?? 0),
        outputTokens: Number(r.outputTokens ?? 0),
        cacheReadTokens: Number(r.cacheReadTokens ?? 0),
        cacheWriteTokens: Number(r.cacheWriteTokens ?? 0),
      })),
    });
  });
  return app;
}
