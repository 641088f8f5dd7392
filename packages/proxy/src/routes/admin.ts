import {
  AppError,
  type AuditTrail,
  adminAuth,
  beforeRoute,
  jsonAnswer,
  jsonBody,
  openRouter,
  setAuditTarget,
} from '@beacon/core';
import { createRoute, z } from '@hono/zod-openapi';
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
  /** Output tokens reserved for a call without max_tokens (unset: BEACON_DEFAULT_MAX_TOKENS). */
  defaultMaxTokens: z.number().int().min(1).max(1_000_000).nullable().optional(),
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

const keyView = z.looseObject({ id: z.string(), user: z.string(), handle: z.string().nullable() });
const quotaView = z.object({
  user: z.string(),
  dailyUsd: z.number().nullable(),
  monthlyUsd: z.number().nullable(),
  requestsPerMinute: z.number().nullable(),
  defaultMaxTokens: z.number().nullable(),
  spentTodayUsd: z.number(),
  spentThisMonthUsd: z.number(),
  reservedUsd: z.number(),
});
const userParam = z.object({ user: name });

const mint = createRoute({
  method: 'post',
  path: '/',
  request: { body: jsonBody(createKey) },
  responses: {
    201: jsonAnswer(z.looseObject({ id: z.string(), key: z.string() }), 'the key, shown this once'),
  },
});
const listKeys = createRoute({
  method: 'get',
  path: '/',
  request: { query: keysQuery },
  responses: { 200: jsonAnswer(z.object({ keys: z.array(keyView) }), 'keys, without their secret') },
});
const bind = createRoute({
  method: 'put',
  path: '/handle/{handle}',
  request: { params: z.object({ handle: name }), body: jsonBody(z.object({ user: name })) },
  responses: {
    200: jsonAnswer(
      z.object({ handle: z.string(), user: z.string(), keys: z.number() }),
      'the keys now bill the user',
    ),
    404: { description: 'no live key for the handle' },
  },
});
const revoke = createRoute({
  method: 'delete',
  path: '/{id}',
  request: { params: z.object({ id: z.string() }) },
  responses: { 204: { description: 'revoked' } },
});
const setQuota = createRoute({
  method: 'put',
  path: '/{user}',
  request: { params: userParam, body: jsonBody(quotaBody) },
  responses: { 200: jsonAnswer(quotaView, 'the limits and what is spent') },
});
const getQuota = createRoute({
  method: 'get',
  path: '/{user}',
  request: { params: userParam },
  responses: { 200: jsonAnswer(quotaView, 'the limits and what is spent') },
});
const summary = createRoute({
  method: 'get',
  path: '/',
  request: { query: usageQuery },
  responses: {
    200: jsonAnswer(z.object({ groupBy: z.string(), rows: z.array(z.looseObject({})) }), 'usage grouped'),
  },
});

/** /api/keys: mint, list and revoke Beacon keys (admin token). */
export function keyRoutes({ keys, audit, adminToken }: AdminRoutesDeps) {
  const app = openRouter(adminAuth(adminToken));
  beforeRoute(app, mint, audit.audited('key.mint'));
  app.openapi(mint, async (c) => {
    const { user, handle } = c.req.valid('json');
    const created = await keys.create({ user, handle });
    setAuditTarget(c, `${created.id} (${user})`);
    return c.json(created, 201);
  });
  app.openapi(listKeys, async (c) => c.json({ keys: await keys.list(c.req.valid('query')) }, 200));
  beforeRoute(app, bind, audit.audited('key.bind'));
  app.openapi(bind, async (c) => {
    const { handle } = c.req.valid('param');
    const { user } = c.req.valid('json');
    setAuditTarget(c, `${handle} → ${user}`);
    const moved = await keys.bind(handle, user);
    if (moved === 0) throw new AppError('not_found', `no live key for handle ${handle}`);
    return c.json({ handle, user, keys: moved }, 200);
  });
  beforeRoute(app, revoke, audit.audited('key.revoke'));
  app.openapi(revoke, async (c) => {
    const { id } = c.req.valid('param');
    if (!(await keys.revoke(id))) throw new AppError('not_found', `no active key ${id}`);
    return c.body(null, 204);
  });
  return app;
}

/** /api/quotas/:user: a user's budgets and what is spent of them (admin token). */
export function quotaRoutes({ quotas, audit, adminToken }: AdminRoutesDeps) {
  const app = openRouter(adminAuth(adminToken));
  beforeRoute(app, setQuota, audit.audited('quota.set'));
  app.openapi(setQuota, async (c) =>
    c.json(await quotas.set(c.req.valid('param').user, c.req.valid('json')), 200),
  );
  app.openapi(getQuota, async (c) => c.json(await quotas.get(c.req.valid('param').user), 200));
  return app;
}

/** /api/usage: tokens and USD grouped by user, handle, model or day (admin token). */
export function usageRoutes({ usage, adminToken }: AdminRoutesDeps) {
  const app = openRouter(adminAuth(adminToken));
  app.openapi(summary, async (c) => {
    const q = c.req.valid('query');
    const rows = await usage.summarize({
      user: q.user,
      from: q.from ? new Date(q.from) : undefined,
      to: q.to ? new Date(q.to) : undefined,
      groupBy: q.groupBy,
    });
    return c.json({ groupBy: q.groupBy.join(','), rows }, 200);
  });
  return app;
}
