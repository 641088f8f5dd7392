import type { Logger } from '@beacon/core';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { outputLimit } from './domain/output-limit';
import { NO_USAGE, type Provider, type TokenUsage } from './domain/prices';
import { ERROR_TYPES, providerError } from './domain/provider-errors';
import { fromAnthropic, fromOpenAi, StreamUsageTracker } from './domain/usage';
import type { KeyOwner, KeyStore } from './keys';
import type { ProxyMetrics } from './metrics';
import type { QuotaGuard } from './quotas';
import type { CallStatus, Recorder } from './recorder';

export interface Upstream {
  url: string;
  key?: string;
}

export interface ForwarderDeps {
  upstreams: Record<Provider, Upstream>;
  keys: KeyStore;
  quotas: QuotaGuard;
  recorder: Recorder;
  metrics: ProxyMetrics;
  log: Logger;
  timeoutMs: number;
}

/** What the proxy charged for a call: a response header, or for streams a final SSE comment. */
export const COST_HEADER = 'x-beacon-cost-usd';
const PATHS: Record<Provider, string> = { openai: '/v1/chat/completions', anthropic: '/v1/messages' };

function presentedKey(c: Context): string | undefined {
  const auth = c.req.header('authorization');
  if (auth?.toLowerCase().startsWith('bearer ')) return auth.slice(7).trim();
  return c.req.header('x-api-key') ?? undefined;
}

/** Forwards one AI call: authenticate, reserve budget, call upstream, pass the answer through, record usage. */
export function createForwarder(deps: ForwarderDeps) {
  const { upstreams, keys, quotas, recorder, metrics, log, timeoutMs } = deps;

  const fail = (
    c: Context,
    provider: Provider,
    status: ContentfulStatusCode,
    kind: string,
    message: string,
    headers = {},
  ) => c.json(providerError(provider, ERROR_TYPES[kind]?.[provider] ?? kind, message), status, headers);

  function authenticate(c: Context, provider: Provider): KeyOwner | Response {
    const key = presentedKey(c);
    if (!key)
      return fail(
        c,
        provider,
        401,
        'unauthorized',
        'missing API key: send Authorization: Bearer or x-api-key',
      );
    return keys.verify(key) ?? fail(c, provider, 401, 'unauthorized', 'unknown or revoked API key');
  }

  async function forward(c: Context, provider: Provider): Promise<Response> {
    const started = performance.now();
    const traceId = c.req.header('x-beacon-trace-id') || crypto.randomUUID();
    c.header('x-beacon-trace-id', traceId);
    const owner = authenticate(c, provider);
    if (owner instanceof Response) return owner;

    let body: Record<string, unknown>;
    try {
      body = await c.req.json();
    } catch {
      return fail(c, provider, 400, 'bad_request', 'body: invalid JSON');
    }
    if (typeof body !== 'object' || body === null || typeof body.model !== 'string' || !body.model) {
      return fail(c, provider, 400, 'bad_request', 'body.model: required string');
    }
    const model = body.model;
    const maxOutput = outputLimit(body);
    if (typeof maxOutput === 'string') return fail(c, provider, 400, 'bad_request', maxOutput);
    const stream = body.stream === true;
    if (provider === 'openai' && stream) {
      body.stream_options = { ...(body.stream_options as object | undefined), include_usage: true };
    }
    const upstreamBody = JSON.stringify(body);
    const metricUser = recorder.userLabel(owner.user);

    // Worst case: every byte of the request a token (prompts are ~4 bytes per token), priced at the dearer input rate.
    const bytes = upstreamBody.length;
    const worstCase = Math.max(
      recorder.costOf(model, { input: bytes, output: maxOutput, cacheRead: 0, cacheWrite: 0 }),
      recorder.costOf(model, { input: 0, output: maxOutput, cacheRead: 0, cacheWrite: bytes }),
    );
    const reservation = quotas.reserve(owner.user, metricUser, worstCase);
    const call = {
      user: owner.user,
      handle: owner.handle,
      keyId: owner.id,
      provider,
      model,
      stream,
      traceId,
    };
    // Written before the upstream is asked: a proxy killed mid-call leaves a row, not a lost charge.
    const pendingId = reservation.ok ? await recorder.begin(call, worstCase) : undefined;
    const record = (usage: TokenUsage, status: CallStatus, httpStatus: number, usedModel = model) => {
      const cost = recorder.record(
        { ...call, model: usedModel, usage, status, httpStatus, durationMs: performance.now() - started },
        pendingId,
      );
      if (reservation.ok) reservation.settle(cost);
      return cost;
    };
    if (!reservation.ok) {
      metrics.quotaRejections.inc({ user: metricUser });
      record(NO_USAGE, 'rejected', 429);
      log.info(
        { event: 'proxy.quota_rejected', user: owner.user, reason: reservation.reason, traceId },
        reservation.message,
      );
      const retry = { 'retry-after': String(reservation.retryAfterSeconds), 'x-should-retry': 'false' };
      return c.json(providerError(provider, 'budget_exceeded', reservation.message), 429, retry);
    }

    const upstream = upstreams[provider];
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-beacon-trace-id': traceId,
    };
    if (provider === 'openai') {
      if (upstream.key) headers.authorization = `Bearer ${upstream.key}`;
    } else {
      if (upstream.key) headers['x-api-key'] = upstream.key;
      headers['anthropic-version'] = c.req.header('anthropic-version') ?? '2023-06-01';
      const beta = c.req.header('anthropic-beta');
      if (beta) headers['anthropic-beta'] = beta;
    }
    const modelLabel = recorder.modelLabel(model);
    const endUpstream = metrics.upstreamDuration.startTimer({ provider, model: modelLabel });
    const upstreamError = (kind: string) => metrics.upstreamErrors.inc({ provider, kind });

    let res: Response;
    const abort = AbortSignal.timeout(timeoutMs);
    try {
      res = await fetch(upstream.url.replace(/\/$/, '') + PATHS[provider], {
        method: 'POST',
        headers,
        body: upstreamBody,
        signal: abort,
      });
    } catch (err) {
      endUpstream();
      const timedOut = abort.aborted;
      upstreamError(timedOut ? 'timeout' : 'connect');
      record(NO_USAGE, timedOut ? 'timeout' : 'upstream_error', timedOut ? 504 : 502);
      log.warn(
        { event: 'proxy.upstream_failed', provider, traceId, err: String(err) },
        'upstream call failed',
      );
      return timedOut
        ? fail(
            c,
            provider,
            504,
            'timeout',
            `upstream ${provider} did not answer within ${timeoutMs / 1000} s`,
          )
        : fail(c, provider, 502, 'upstream', `upstream ${provider} unreachable`);
    }

    if (!res.ok || !stream || !res.body) {
      let text: string;
      try {
        text = await res.text();
      } catch {
        endUpstream();
        upstreamError(abort.aborted ? 'timeout' : 'read');
        record(NO_USAGE, abort.aborted ? 'timeout' : 'upstream_error', abort.aborted ? 504 : 502);
        return fail(
          c,
          provider,
          abort.aborted ? 504 : 502,
          abort.aborted ? 'timeout' : 'upstream',
          'upstream answer broke off',
        );
      }
      endUpstream();
      if (!res.ok) {
        upstreamError(`http_${res.status}`);
        record(NO_USAGE, 'upstream_error', res.status >= 500 ? 502 : res.status);
        if (res.status >= 500)
          return fail(c, provider, 502, 'upstream', `upstream ${provider} answered ${res.status}`);
        return new Response(text, {
          status: res.status,
          headers: { 'content-type': 'application/json', 'x-beacon-trace-id': traceId },
        });
      }
      let parsed: { usage?: unknown; model?: string } = {};
      try {
        parsed = JSON.parse(text);
      } catch {}
      const usage =
        (provider === 'openai' ? fromOpenAi(parsed.usage as never) : fromAnthropic(parsed.usage as never)) ??
        NO_USAGE;
      const cost = record(usage, 'ok', res.status, model);
      return new Response(text, {
        status: res.status,
        headers: {
          'content-type': 'application/json',
          'x-beacon-trace-id': traceId,
          [COST_HEADER]: String(cost),
        },
      });
    }

    // Streaming: pass each chunk on as it comes and read usage on the way. If the client goes away, the
    // upstream is still drained (it generates and bills regardless) so the recorded usage is exact.
    const tracker = new StreamUsageTracker(provider);
    const reader = res.body.getReader();
    let clientGone = false;
    let finished = false;
    const finish = (status: CallStatus, httpStatus: number) => {
      if (finished) return 0;
      finished = true;
      endUpstream();
      return record(tracker.usage ?? NO_USAGE, status, httpStatus);
    };
    const drain = async () => {
      try {
        for (let r = await reader.read(); !r.done; r = await reader.read()) tracker.push(r.value);
        finish('client_closed', 499);
      } catch {
        upstreamError(abort.aborted ? 'timeout' : 'read');
        finish('client_closed', 499);
      }
    };
    const out = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const r = await reader.read();
          if (r.done) {
            const cost = finish('ok', 200);
            // An SSE comment, which SDKs ignore: lets Beacon's kernel report the cost the proxy charged.
            controller.enqueue(new TextEncoder().encode(`: beacon-cost-usd ${cost}\n\n`));
            controller.close();
            return;
          }
          tracker.push(r.value);
          if (!clientGone) controller.enqueue(r.value);
        } catch (err) {
          upstreamError(abort.aborted ? 'timeout' : 'read');
          finish(abort.aborted ? 'timeout' : 'upstream_error', 502);
          controller.error(err);
        }
      },
      cancel() {
        clientGone = true;
        void drain();
      },
    });
    return new Response(out, {
      status: 200,
      headers: {
        'content-type': res.headers.get('content-type') ?? 'text/event-stream',
        'cache-control': 'no-cache',
        'x-beacon-trace-id': traceId,
      },
    });
  }

  return { forward, authenticate };
}

export type Forwarder = ReturnType<typeof createForwarder>;
