import { createHash } from 'node:crypto';
import { createRoute } from '@hono/zod-openapi';
import { and, desc, eq, gte, lte, type SQL } from 'drizzle-orm';
import type { Context, MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import { z } from 'zod';
import { type AuditEntry, auditLog } from './audit-schema';
import type { Store } from './database';
import { isoDateTime } from './errors';
import { failure, jsonAnswer, openRouter } from './routes';

export { type AuditEntry, auditLog };

const actors = new WeakMap<Request, string>();

/** `admin-token:1a2b3c4d`: the role of the token and the start of its SHA-256, enough to tell tokens apart. */
export const tokenActor = (role: string, token: string) =>
  `${role}:${createHash('sha256').update(token).digest('hex').slice(0, 8)}`;

/** Set by the token guards; requests no guard saw come from loopback callers of an open service. */
export const setActor = (c: Context, actor: string) => actors.set(c.req.raw, actor);
export const actorOf = (c: Context) => actors.get(c.req.raw) ?? 'open';

const targets = new WeakMap<Request, string>();
/** For a mutation whose target is not in its path (e.g. the handle in a create's body). */
export const setAuditTarget = (c: Context, target: string) => targets.set(c.req.raw, target);

const querySchema = z.object({
  from: isoDateTime.optional(),
  to: isoDateTime.optional(),
  action: z.string().max(100).optional(),
  target: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const listRoute = createRoute({
  method: 'get',
  path: '/',
  request: { query: querySchema },
  responses: {
    200: jsonAnswer(
      z.object({
        entries: z.array(
          z.object({
            id: z.number(),
            at: z.string(),
            actor: z.string(),
            action: z.string(),
            target: z.string(),
            outcome: z.string(),
            status: z.number(),
            requestId: z.string(),
          }),
        ),
      }),
      'the trail, newest first',
    ),
    400: failure('a query field is wrong'),
  },
});

const outcomeOf = (status: number) => (status < 400 ? 'ok' : status < 500 ? 'refused' : 'failed');

export function createAuditTrail(
  { db, t }: Pick<Store<{ auditLog: typeof auditLog }>, 'db' | 't'>,
  log: Logger,
) {
  const record = (entry: Omit<AuditEntry, 'id'>) => {
    log.info(
      { event: 'audit.operation', ...entry, at: entry.at.toISOString() },
      `${entry.action} ${entry.target}`,
    );
    // The log line above still carries it; the mutation itself already happened.
    return db
      .insert(t.auditLog)
      .values(entry)
      .then(
        () => {},
        (err: unknown) =>
          log.error(
            { event: 'audit.store_failed', action: entry.action, err: String(err) },
            'audit row not stored',
          ),
      );
  };

  /** Route middleware: records the mutation once it has been answered (its target: the path's first param). */
  const audited =
    (action: string): MiddlewareHandler =>
    async (c, next) => {
      await next();
      const param = Object.values(c.req.param() as Record<string, string>)[0];
      await record({
        at: new Date(),
        actor: actorOf(c),
        action,
        target: targets.get(c.req.raw) ?? param ?? '-',
        outcome: outcomeOf(c.res.status),
        status: c.res.status,
        requestId: (c.get('requestId' as never) as string | undefined) ?? '',
      });
    };

  function query(q: z.infer<typeof querySchema>): Promise<AuditEntry[]> {
    const auditLog = t.auditLog;
    const where: SQL[] = [];
    if (q.from) where.push(gte(auditLog.at, new Date(q.from)));
    if (q.to) where.push(lte(auditLog.at, new Date(q.to)));
    if (q.action) where.push(eq(auditLog.action, q.action));
    if (q.target) where.push(eq(auditLog.target, q.target));
    return db
      .select()
      .from(auditLog)
      .where(and(...where))
      .orderBy(desc(auditLog.id))
      .limit(q.limit);
  }

  /** GET /api/audit?from&to&action&target&limit — newest first; mounted at /api/audit behind `guard`. */
  const routes = (guard: MiddlewareHandler) =>
    openRouter(guard).openapi(listRoute, async (c) => {
      const entries = await query(c.req.valid('query'));
      return c.json({ entries: entries.map((e) => ({ ...e, at: e.at.toISOString() })) }, 200);
    });

  return { audited, record, query, routes };
}

export type AuditTrail = ReturnType<typeof createAuditTrail>;

/** For apps built without a database (tests of routes alone): mutations pass unrecorded. */
export const unaudited =
  (_action: string): MiddlewareHandler =>
  (_c, next) =>
    next();
