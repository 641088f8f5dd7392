import { AppError, adminAuth, failure, jsonAnswer, openRouter } from '@beacon/core';
import { createRoute, z } from '@hono/zod-openapi';
import type { PriceBook } from '../prices';
import type { Recorder } from '../recorder';

const rates = z.object({
  name: z.string(),
  source: z.enum(['override', 'catalogue']),
  provider: z.string(),
  input: z.number(),
  output: z.number(),
  cacheRead: z.number(),
  cacheWrite: z.number(),
  maxOutput: z.number(),
  tiered: z.boolean(),
});
const read = createRoute({
  method: 'get',
  path: '/',
  request: {
    query: z.object({
      model: z.string().min(1).max(200).optional(),
      /** The API kind the model is called through (its catalogue provider is tried first). */
      kind: z.enum(['openai', 'anthropic']).default('openai'),
      unpriced: z.enum(['true', 'false']).default('false'),
    }),
  },
  responses: {
    200: jsonAnswer(
      z.union([
        z.object({ model: z.string(), priced: z.boolean(), usdPerMillionTokens: rates.nullable() }),
        z.object({
          unpriced: z.array(z.object({ model: z.string(), calls: z.number(), firstAt: z.string() })),
        }),
      ]),
      "a model's rates (USD per million tokens) and where they come from, or the models called without a price",
    ),
    400: failure('neither model nor unpriced=true'),
  },
});

/**
 * GET /api/prices?model=: what a model is charged (the override file's entry, else the catalogue's);
 * GET /api/prices?unpriced=true: the models called since this proxy started that have no price (admin token).
 */
export function priceRoutes({
  prices,
  recorder,
  adminToken,
}: {
  prices: Pick<PriceBook, 'rates'>;
  recorder: Pick<Recorder, 'unpriced'>;
  adminToken?: string | undefined;
}) {
  return openRouter(adminAuth(adminToken)).openapi(read, (c) => {
    const { model, kind, unpriced } = c.req.valid('query');
    if (unpriced === 'true') return c.json({ unpriced: recorder.unpriced() }, 200);
    if (!model) throw new AppError('bad_request', 'query.model: required (or unpriced=true)');
    const found = prices.rates(model, kind);
    return c.json({ model, priced: Boolean(found), usdPerMillionTokens: found ?? null }, 200);
  });
}
