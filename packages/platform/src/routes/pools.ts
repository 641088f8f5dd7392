import { type AuditTrail, adminAuth, parseJsonBody, setAuditTarget } from '@beacon/core';
import { Hono } from 'hono';
import { z } from 'zod';
import type { Pools } from '../pools/pools';

const tenantBody = z.object({ tenant: z.string().min(1).max(128) });

/** GET /api/pools; POST /api/pools/:name/acquire and /release with {tenant}. */
export function poolRoutes({
  pools,
  audited,
  adminToken,
}: {
  pools: Pools;
  audited: AuditTrail['audited'];
  adminToken?: string | undefined;
}) {
  const app = new Hono();
  app.use('/api/pools', adminAuth(adminToken));
  app.use('/api/pools/*', adminAuth(adminToken));
  app.get('/api/pools', (c) => c.json({ pools: pools.list() }));
  for (const verb of ['acquire', 'release'] as const)
    app.post(`/api/pools/:name/${verb}`, audited(`pool.${verb}`), async (c) => {
      const { tenant } = await parseJsonBody(c, tenantBody);
      setAuditTarget(c, `${c.req.param('name')}/${tenant}`);
      return c.json(await pools[verb](c.req.param('name'), tenant));
    });
  return app;
}
