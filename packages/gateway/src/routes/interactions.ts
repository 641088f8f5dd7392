import { adminAuth, HANDLE_PATTERN, parseWith } from '@beacon/core';
import { Hono } from 'hono';
import { z } from 'zod';
import type { InteractionLogger } from '../interaction-logger';

const query = z.object({
  date: z.iso.date({ error: 'must be a date as YYYY-MM-DD' }).optional(),
  handle: z.string().regex(HANDLE_PATTERN, 'must be a handle').optional(),
  traceId: z.string().max(128).optional(),
  status: z.string().max(32).optional(),
  source: z.string().max(32).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** GET /api/interactions: the dispatch history of one UTC day from the interaction log, without Loki. */
export function interactionRoutes({
  interactions,
  adminToken,
}: {
  interactions: Pick<InteractionLogger, 'read'>;
  adminToken?: string | undefined;
}) {
  const app = new Hono();
  // Prompts are in there: admin only.
  app.use('/api/interactions', adminAuth(adminToken));
  app.get('/api/interactions', async (c) => {
    const {
      date = new Date().toISOString().slice(0, 10),
      limit,
      ...filter
    } = parseWith(query, c.req.query(), 'query');
    return c.json({ date, ...(await interactions.read(date, filter, limit)) });
  });
  return app;
}
