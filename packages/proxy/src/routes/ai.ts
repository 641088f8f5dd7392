import { jsonAnswer, openRouter } from '@beacon/core';
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { PriceTable } from '../domain/prices';
import type { Forwarder } from '../forward/forwarder';

/**
 * The provider's answer, JSON or a stream, passed on as the upstream sent it. The request body is not declared
 * here: the forwarder reads it itself and refuses it in the provider's own error shape, which SDKs parse.
 */
const forwarded = (description: string) => ({
  content: {
    'application/json': { schema: z.looseObject({}) },
    'text/event-stream': { schema: z.string() },
  },
  description,
});
const chat = createRoute({
  method: 'post',
  path: '/chat/completions',
  responses: { 200: forwarded('an OpenAI chat completion') },
});
const messages = createRoute({
  method: 'post',
  path: '/messages',
  responses: { 200: forwarded('an Anthropic message') },
});
const models = createRoute({
  method: 'get',
  path: '/models',
  responses: {
    200: jsonAnswer(
      z.object({
        object: z.literal('list'),
        data: z.array(
          z.object({ id: z.string(), object: z.literal('model'), created: z.number(), owned_by: z.string() }),
        ),
      }),
      'the models priced here',
    ),
  },
});

/** /v1: the OpenAI- and Anthropic-compatible surface callers (kernels, SDKs) talk to, with their Beacon key. */
export function aiRoutes({ forwarder, prices }: { forwarder: Forwarder; prices: PriceTable }) {
  /** A Beacon key is needed to list models too; refused in OpenAI's shape. */
  const keyGuard: MiddlewareHandler = async (c, next) => {
    const owner = await forwarder.authenticate(c, 'openai');
    if (owner instanceof Response) return owner;
    await next();
  };
  return openRouter()
    .openapi(chat, (c) => forwarder.forward(c, 'openai'))
    .openapi(messages, (c) => forwarder.forward(c, 'anthropic'))
    .openapi({ ...models, middleware: [keyGuard] }, (c) => {
      const data = Object.entries(prices).map(([id, p]) => ({
        id,
        object: 'model' as const,
        created: 0,
        owned_by: p.provider,
      }));
      return c.json({ object: 'list' as const, data }, 200);
    });
}
