import { jsonAnswer, openRouter, traceUsageAnswer } from '@beacon/core';
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { microUsd } from '../domain/budget';
import type { Routes } from '../domain/routing';
import type { Authenticator } from '../forward/authenticate';
import type { Forwarder } from '../forward/forwarder';
import type { Passthrough } from '../forward/passthrough';
import type { PriceBook } from '../prices';
import type { UsageStore } from '../usage-store';

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
const call = (path: string, description: string) =>
  createRoute({ method: 'post', path, responses: { 200: forwarded(description) } });
const id = z.object({ id: z.string().min(1).max(200) });
const stored = (method: 'get' | 'post' | 'delete', path: string, description: string) =>
  createRoute({ method, path, request: { params: id }, responses: { 200: forwarded(description) } });
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
      'the models the routing table serves',
    ),
  },
});

const traceUsage = createRoute({
  method: 'get',
  path: '/usage',
  request: { query: z.object({ traceId: z.string().min(1).max(200) }) },
  responses: {
    200: jsonAnswer(traceUsageAnswer, "the key's user's calls of one trace (a dispatch), summed"),
  },
});

export interface AiRoutesDeps {
  forwarder: Forwarder;
  passthrough: Passthrough;
  authenticator: Authenticator;
  prices: Pick<PriceBook, 'models' | 'rates'>;
  routes: Routes;
  usage: Pick<UsageStore, 'ofTrace'>;
}

/** How long GET /v1/usage waits for a trace's calls still in flight (their answer ends a moment later). */
const SETTLE_WAIT_MS = 5000;

/** /v1: the OpenAI- and Anthropic-compatible surface callers (kernels, SDKs, agent CLIs) talk to, with their Beacon key. */
export function aiRoutes({ forwarder, passthrough, authenticator, prices, routes, usage }: AiRoutesDeps) {
  /** A Beacon key is needed to list models too; refused in OpenAI's shape. */
  const keyGuard: MiddlewareHandler = async (c, next) => {
    const owner = await authenticator.authenticate(c, 'openai');
    if (owner instanceof Response) return owner;
    await next();
  };
  /**
   * What the key's user spent in one trace: a kernel asks when the agent CLI it ran has finished, and waits a
   * moment for a call whose answer reached the CLI before the proxy had recorded it.
   */
  async function usageOf(user: string, traceId: string) {
    const until = Date.now() + SETTLE_WAIT_MS;
    let rows = await usage.ofTrace(user, traceId);
    while (rows.some((r) => r.inFlight > 0) && Date.now() < until) {
      await Bun.sleep(100);
      rows = await usage.ofTrace(user, traceId);
    }
    const total = (k: Exclude<keyof (typeof rows)[number], 'model'>) => rows.reduce((n, r) => n + r[k], 0);
    return {
      traceId,
      calls: total('calls'),
      inFlight: total('inFlight'),
      costUsd: microUsd(total('costUsd')),
      inputTokens: total('inputTokens'),
      cacheReadTokens: total('cacheReadTokens'),
      cacheWriteTokens: total('cacheWriteTokens'),
      outputTokens: total('outputTokens'),
      models: rows.map(({ model, calls, costUsd }) => ({ model, calls, costUsd: microUsd(costUsd) })),
    };
  }
  /** Named by a route, or priced for a kind some route serves it with (the table is fixed: made once). */
  let listed: ReturnType<typeof list> | undefined;
  const served = () => {
    listed ??= list();
    return listed;
  };
  const list = () => {
    const listed = new Map<string, string>();
    for (const name of routes.named()) listed.set(name, 'beacon');
    for (const kind of ['openai', 'anthropic'] as const)
      for (const model of prices.models(kind)) {
        const [first] = routes.candidates(model, kind);
        if (first && !listed.has(model)) listed.set(model, first);
      }
    return [...listed].map(([model, owner]) => ({
      id: model,
      object: 'model' as const,
      created: 0,
      owned_by: owner,
    }));
  };
  return openRouter()
    .openapi(call('/chat/completions', 'an OpenAI chat completion'), (c) => forwarder.forward(c, 'chat'))
    .openapi(call('/responses', 'an OpenAI response'), (c) => forwarder.forward(c, 'responses'))
    .openapi(stored('get', '/responses/{id}', 'a stored response'), (c) =>
      passthrough.stored(c, c.req.valid('param').id, ''),
    )
    .openapi(stored('delete', '/responses/{id}', 'deleted'), (c) =>
      passthrough.stored(c, c.req.valid('param').id, ''),
    )
    .openapi(stored('get', '/responses/{id}/input_items', "a stored response's input"), (c) =>
      passthrough.stored(c, c.req.valid('param').id, '/input_items'),
    )
    .openapi(stored('post', '/responses/{id}/cancel', 'cancelled'), (c) =>
      passthrough.stored(c, c.req.valid('param').id, '/cancel'),
    )
    .openapi(call('/embeddings', 'OpenAI embeddings'), (c) => forwarder.forward(c, 'embeddings'))
    .openapi(call('/messages', 'an Anthropic message'), (c) => forwarder.forward(c, 'messages'))
    .openapi(call('/messages/count_tokens', "a prompt's token count (not charged)"), (c) =>
      passthrough.countTokens(c),
    )
    .openapi({ ...models, middleware: [keyGuard] }, (c) =>
      c.json({ object: 'list' as const, data: served() }, 200),
    )
    .openapi(traceUsage, async (c) => {
      const owner = await authenticator.authenticate(c, 'openai');
      if (owner instanceof Response) return owner as never;
      return c.json(await usageOf(owner.user, c.req.valid('query').traceId), 200);
    });
}
