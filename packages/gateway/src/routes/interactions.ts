import { adminAuth, failure, HANDLE_PATTERN, interactionsAnswer, jsonAnswer, openRouter } from '@beacon/core';
import { createRoute, z } from '@hono/zod-openapi';
import type { InteractionLogger } from '../interaction-logger';

const read = createRoute({
  method: 'get',
  path: '/',
  request: {
    query: z.object({
      date: z.iso.date({ error: 'must be a date as YYYY-MM-DD' }).optional(),
      handle: z.string().regex(HANDLE_PATTERN, 'must be a handle').optional(),
      traceId: z.string().max(128).optional(),
      status: z.string().max(32).optional(),
      source: z.string().max(32).optional(),
      limit: z.coerce.number().int().min(1).max(1000).default(100),
    }),
  },
  responses: {
    200: jsonAnswer(
      interactionsAnswer.extend({ date: z.string(), totals: z.record(z.string(), z.number()) }),
      "the day's dispatches, newest first",
    ),
    400: failure('a query field is wrong'),
  },
});

/** GET /api/interactions: the dispatch history of one UTC day from the interaction log, without Loki. */
export function interactionRoutes({
  interactions,
  adminToken,
}: {
  interactions: Pick<InteractionLogger, 'read'>;
  adminToken?: string | undefined;
}) {
  // Prompts are in there: admin only.
  return openRouter(adminAuth(adminToken)).openapi(read, async (c) => {
    const { date = new Date().toISOString().slice(0, 10), limit, ...filter } = c.req.valid('query');
    return c.json({ date, ...(await interactions.read(date, filter, limit)) }, 200);
  });
}
