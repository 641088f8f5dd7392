import type { Logger } from '@beacon/core';
import type { Context } from 'hono';
import type { UpstreamClient } from '../clients/upstream';
import type { Provider } from '../domain/prices';
import type { ResponseOwners } from '../response-owners';
import { noResponse } from './admit';
import type { Authenticator } from './authenticate';
import { fail } from './reply';

export interface PassthroughDeps {
  authenticator: Authenticator;
  owners: ResponseOwners;
  upstream: Pick<UpstreamClient, 'send' | 'candidates' | 'timeoutMs'>;
  log: Logger;
}

/**
 * Calls that produce no tokens, passed on as they are and not charged, but only with a Beacon key: counting
 * a prompt's tokens, and reading, listing the input of, cancelling or deleting a stored response (only its
 * own user's: anyone else gets the 404 of an id that does not exist).
 */
export function createPassthrough({ authenticator, owners, upstream, log }: PassthroughDeps) {
  const { authenticate, away } = authenticator;

  async function relay(c: Context, kind: Provider, upstreams: string[], path: string, body?: string) {
    const traceId = c.req.header('x-beacon-trace-id') || crypto.randomUUID().replaceAll('-', '');
    const { signal, answer } = upstream.send(upstreams, {
      method: c.req.method as 'GET' | 'POST' | 'DELETE',
      path,
      body,
      call: {
        traceId,
        traceparent: c.req.header('traceparent') ?? '',
        anthropicVersion: c.req.header('anthropic-version'),
        anthropicBeta: c.req.header('anthropic-beta'),
      },
    });
    try {
      const { response } = await answer;
      const text = await response.text();
      return new Response(text, {
        status: response.status >= 500 ? 502 : response.status,
        headers: { 'content-type': response.headers.get('content-type') ?? 'application/json' },
      });
    } catch (err) {
      log.warn({ event: 'proxy.upstream_failed', kind, path, err: String(err) }, 'upstream call failed');
      return signal.aborted
        ? fail(c, kind, 504, 'timeout', `upstream did not answer within ${upstream.timeoutMs / 1000} s`)
        : fail(c, kind, 502, 'upstream', `upstream ${kind} unreachable`);
    }
  }

  return {
    /** POST /v1/messages/count_tokens, to the upstream that serves the model. */
    async countTokens(c: Context) {
      const owner = await authenticate(c, 'anthropic');
      if (owner instanceof Response) return owner;
      const body = await c.req.text();
      let model: unknown;
      try {
        model = (JSON.parse(body) as { model?: unknown }).model;
      } catch {
        return fail(c, 'anthropic', 400, 'bad_request', 'body: invalid JSON');
      }
      if (typeof model !== 'string' || !model)
        return fail(c, 'anthropic', 400, 'bad_request', 'body.model: required string');
      const upstreams = upstream.candidates(model, 'anthropic');
      if (upstreams.length === 0)
        return fail(
          c,
          'anthropic',
          404,
          'not_found',
          `no upstream serves model ${model} (BEACON_ROUTES_FILE)`,
        );
      return relay(c, 'anthropic', upstreams, '/messages/count_tokens', body);
    },

    /** GET|DELETE /v1/responses/{id}, GET …/input_items, POST …/cancel: the owner's only. */
    async stored(c: Context, id: string, suffix: '' | '/input_items' | '/cancel') {
      const owner = await authenticate(c, 'openai');
      if (owner instanceof Response) return owner;
      const found = await owners.of(id, owner.user).catch((err: unknown) => away(c, 'openai', err));
      if (found instanceof Response) return found;
      if (!found) return noResponse(c, id);
      const search = new URL(c.req.url).search;
      const res = await relay(
        c,
        'openai',
        [found.upstream],
        `/responses/${encodeURIComponent(id)}${suffix}${search}`,
      );
      if (c.req.method === 'DELETE' && res.ok) await owners.forget(id).catch(() => {});
      return res;
    },
  };
}

export type Passthrough = ReturnType<typeof createPassthrough>;
