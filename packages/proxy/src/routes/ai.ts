import { Hono } from 'hono';
import type { PriceTable } from '../domain/prices';
import type { Forwarder } from '../forward/forwarder';

/** The OpenAI- and Anthropic-compatible surface callers (kernels, SDKs) talk to. */
export function aiRoutes({ forwarder, prices }: { forwarder: Forwarder; prices: PriceTable }) {
  return new Hono()
    .post('/v1/chat/completions', (c) => forwarder.forward(c, 'openai'))
    .post('/v1/messages', (c) => forwarder.forward(c, 'anthropic'))
    .get('/v1/models', async (c) => {
      const owner = await forwarder.authenticate(c, 'openai');
      if (owner instanceof Response) return owner;
      const data = Object.entries(prices).map(([id, p]) => ({
        id,
        object: 'model',
        created: 0,
        owned_by: p.provider,
      }));
      return c.json({ object: 'list', data });
    });
}
