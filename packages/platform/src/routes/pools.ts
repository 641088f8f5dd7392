import { adminAuth, parseJsonBody } from '@beacon/core';
import { Hono } from 'hono';
import { z } from 'zod';
import type { Pools } from '../pools';

const tenantBody = z.object({ tenant: z.string().min(1).max(128) });

/** GET /api/pools; POST /api/pools/:name/acquire and /release with {tenant}. */
export function poolRoutes(pools: Pools, adminToken?: string) {
  const app = new Hono();
  app.use('/api/pools', adminAuth(adminToken));
  app.use('/api/pools/*', adminAuth(adminToken));
  app.get('/api/pools', (c) => c.json({ pools: pools.list() }));
  app.post('/api/pools/:name/acquire', async (c) => {
    const { tenant } = await parseJsonBody(c, tenantBody);
    return c.json(await pools.acquire(c.req.param('name'), tenant));
  });
  app.post('/api/pools/:name/release', async (c) => {
    const { tenant } = await parseJsonBody(c, tenantBody);
    return c.json(await pools.release(c.req.param('name'), tenant));
  });
  return app;
}
