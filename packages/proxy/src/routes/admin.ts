import { AppError, type AuditTrail, adminAuth, parseJsonBody, parseWith, setAuditTarget } from '@beacon/core';
import { Hono } from 'hono';
import { z } from 'zod';
import type { KeyStore } from '../keys';
import type { QuotaGuard } from '../quotas/guard';
import { USAGE_DIMENSIONS, type UsageDimension, type UsageStore } from '../usage-store';

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
const dimension = z.enum(USAGE_DIMENSIONS);
const usageQuery = z.object({
  user: name.optional(),
  from: isoTime.optional(),
  to: isoTime.optional(),
  /** One dimension or several, comma-separated (handle,day: cost per container per day). */
  groupBy: z
    .string()
    .default('day')
    .transform((v, ctx) => {
      const parts = [...new Set(v.split(','))];
      for (const part of parts) {
        const checked = dimension.safeParse(part);
        if (!checked.success) {
          ctx.addIssue({ code: 'custom', message: checked.error.issues[0]?.message ?? 'unknown dimension' });
          return z.NEVER;
        }
      }
      return parts as UsageDimension[];
    }),
});

export interface AdminRoutesDeps {
  usage: UsageStore;
  keys: KeyStore;
  quotas: QuotaGuard;
  audit: AuditTrail;
  adminToken?: string | undefined;
}

/** Keys, quotas, usage and the audit trail (admin token). */
export function adminRoutes({ usage, keys, quotas, audit, adminToken }: AdminRoutesDeps) {
  const app = new Hono();
  app.use('/api/*', adminAuth(adminToken));
  app.route('/', audit.routes(adminAuth(adminToken)));
  app.post('/api/keys', audit.audited('key.mint'), async (c) => {
    const { user, handle } = await parseJsonBody(c, createKey);
    const created = await keys.create({ user, handle });
    setAuditTarget(c, `${created.id} (${user})`);
    return c.json(created, 201);
  });
  app.get('/api/keys', async (c) => {
    const { user, handle } = parseWith(keysQuery, c.req.query(), 'query');
    return c.json({ keys: await keys.list({ user, handle }) });
  });
  app.delete('/api/keys/:id', audit.audited('key.revoke'), async (c) => {
    if (!(await keys.revoke(c.req.param('id'))))
      throw new AppError('not_found', `no active key ${c.req.param('id')}`);
    return c.body(null, 204);
  });
  app.put('/api/quotas/:user', audit.audited('quota.set'), async (c) => {
    const user = parseWith(name, c.req.param('user'), 'user');
    return c.json(await quotas.set(user, await parseJsonBody(c, quotaBody)));
  });
  app.get('/api/quotas/:user', async (c) =>
    c.json(await quotas.get(parseWith(name, c.req.param('user'), 'user'))),
  );
  app.get('/api/usage', async (c) => {
    const q = parseWith(usageQuery, c.req.query(), 'query');
    const rows = await usage.summarize({
      user: q.user,
      from: q.from ? new Date(q.from) : undefined,
      to: q.to ? new Date(q.to) : undefined,
      groupBy: q.groupBy,
    });
    return c.json({ groupBy: q.groupBy.join(','), rows });
  });
  return app;
}
