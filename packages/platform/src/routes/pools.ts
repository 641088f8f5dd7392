import {
  type AuditTrail,
  adminAuth,
  beforeRoute,
  jsonAnswer,
  jsonBody,
  openRouter,
  setAuditTarget,
} from '@beacon/core';
import { createRoute, z } from '@hono/zod-openapi';
import type { Pools } from '../pools/pools';

const member = z.object({
  handle: z.string(),
  status: z.string(),
  tenant: z.string().nullable(),
  lastTenant: z.string().nullable(),
});
const list = createRoute({
  method: 'get',
  path: '/',
  responses: {
    200: jsonAnswer(
      z.object({
        pools: z.array(
          z.object({
            name: z.string(),
            min: z.number(),
            max: z.number(),
            size: z.number(),
            available: z.number(),
            borrowed: z.number(),
            pending: z.number(),
            members: z.array(member),
          }),
        ),
      }),
      'every pool, its counts and members',
    ),
  },
});
const verb = (name: 'acquire' | 'release') =>
  createRoute({
    method: 'post',
    path: `/{name}/${name}`,
    request: {
      params: z.object({ name: z.string() }),
      body: jsonBody(z.object({ tenant: z.string().min(1).max(128) })),
    },
    responses: {
      200: jsonAnswer(
        z.looseObject({ pool: z.string(), handle: z.string(), tenant: z.string() }),
        name === 'acquire' ? "the tenant's container" : 'wiped, and kept warm for the tenant',
      ),
    },
  });

/** /api/pools: the pools; acquire and release a tenant's container (admin token). */
export function poolRoutes({
  pools,
  audited,
  adminToken,
}: {
  pools: Pools;
  audited: AuditTrail['audited'];
  adminToken?: string | undefined;
}) {
  const app = openRouter(adminAuth(adminToken));
  app.openapi(list, (c) => c.json({ pools: pools.list() }, 200));
  for (const name of ['acquire', 'release'] as const) {
    const route = verb(name);
    beforeRoute(app, route, audited(`pool.${name}`));
    app.openapi(route, async (c) => {
      const { tenant } = c.req.valid('json');
      const pool = c.req.valid('param').name;
      setAuditTarget(c, `${pool}/${tenant}`);
      return c.json(await pools[name](pool, tenant), 200);
    });
  }
  return app;
}
