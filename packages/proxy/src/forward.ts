import { endSpan, type Logger, type Span, SpanKind, type Tracing, traceparentOf } from '@beacon/core';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Generations } from './clients/langfuse';
import type { UpstreamClient } from './clients/upstream';
import { parseCall, worstCaseUsd } from './domain/budget';
import { NO_USAGE, type Provider, type TokenUsage } from './domain/prices';
import { ERROR_TYPES, providerError } from './domain/provider-errors';
import { fromAnthropic, fromOpenAi, StreamUsageTracker } from './domain/usage';
import type { KeyOwner, KeyStore } from './keys';
import type { ProxyMetrics } from './metrics';
import type { QuotaGuard } from './quotas';
import type { CallStatus, Recorder } from './recorder';
import { passThrough } from './stream-pass';

export interface ForwarderDeps {
  upstream: UpstreamClient;
  keys: KeyStore;
  quotas: QuotaGuard;
  recorder: Recorder;
  metrics: ProxyMetrics;
  log: Logger;
  tracing: Pick<Tracing, 'start'>;
  /** With Langfuse configured: each call as a generation. */
  generations?: Generations | undefined;
}

/** What the proxy charged for a call: a response header, or for streams a final SSE comment. */
export const COST_HEADER = 'x-beacon-cost-usd';

function presentedKey(c: Context): string | undefined {
  const auth = c.req.header('authorization');
  if (auth?.toLowerCase().startsWith('bearer ')) return auth.slice(7).trim();
  return c.req.header('x-api-key') ?? undefined;
}

/** Forwards one AI call: authenticate, reserve budget, call upstream, pass the answer through, record usage. */
export function createForwarder({
  upstream,
  keys,
  quotas,
  recorder,
  metrics,
  log,
  tracing,
  generations,
}: ForwarderDeps) {
  const fail = (
    c: Context,
    provider: Provider,
    status: ContentfulStatusCode,
    kind: string,
    message: string,
    headers = {},
  ) => c.json(providerError(provider, ERROR_TYPES[kind]?.[provider] ?? kind, message), status, headers);

  /** Keys and budgets cannot be checked while the database is away: the call is refused, never let through. */
  const away = (c: Context, provider: Provider, err: unknown) => {
    log.error({ event: 'proxy.database_unavailable', err: String(err) }, 'call refused: its store is away');
    const message = 'the proxy cannot check keys and budgets right now; retry shortly';
    return fail(c, provider, 503, 'unavailable', message, { 'retry-after': '5' });
  };

  async function authenticate(c: Context, provider: Provider): Promise<KeyOwner | Response> {
    const key = presentedKey(c);
    if (!key)
      return fail(
        c,
        provider,
        401,
        'unauthorized',
        'missing API key: send Authorization: Bearer or x-api-key',
      );
    const owner = await keys.verify(key).catch((err: unknown) => away(c, provider, err));
    if (owner instanceof Response) return owner;
    return owner ?? fail(c, provider, 401, 'unauthorized', 'unknown or revoked API key');
  }

  /** Answers passing a stream through: their span ends with the stream. */
  const streams = new WeakSet<Response>();

  /** One call, in its span (a child of the caller's `traceparent`): ended here unless a stream ends it later. */
  async function forward(c: Context, provider: Provider): Promise<Response> {
    const traceparent = c.req.header('traceparent');
    const span = tracing.start('proxy.call', {
      traceparent,
      kind: SpanKind.SERVER,
      attributes: { 'gen_ai.system': provider },
    });
    const res = await call(c, provider, span, traceparent);
    if (!streams.has(res))
      endSpan(span, res.status >= 400 ? `HTTP ${res.status}` : undefined, {
        'http.response.status_code': res.status,
      });
    return res;
  }

  async function call(c: Context, provider: Provider, span: Span, traceparent?: string): Promise<Response> {
    const started = performance.now();
    const startTime = new Date();
    const traceId = traceparent
      ? span.spanContext().traceId
      : c.req.header('x-beacon-trace-id') || span.spanContext().traceId;
    c.header('x-beacon-trace-id', traceId);
    const owner = await authenticate(c, provider);
    if (owner instanceof Response) return owner;

    let json: unknown;
    try {
      json = await c.req.json();
    } catch {
      return fail(c, provider, 400, 'bad_request', 'body: invalid JSON');
    }
    const parsed = parseCall(provider, json);
    if (typeof parsed === 'string') return fail(c, provider, 400, 'bad_request', parsed);
    const { model, stream, upstreamBody } = parsed;
    span.setAttributes({
      'gen_ai.request.model': model,
      'beacon.user': owner.user,
      'beacon.stream': stream,
      ...(owner.handle ? { 'beacon.handle': owner.handle } : {}),
    });
    const metricUser = recorder.userLabel(owner.user);
    const worstCase = worstCaseUsd((u) => recorder.costOf(model, u), upstreamBody.length, parsed.maxOutput);
    const reservation = await quotas
      .reserve(owner.user, metricUser, worstCase)
      .catch((err: unknown) => away(c, provider, err));
    if (reservation instanceof Response) return reservation;
    const call = {
      user: owner.user,
      handle: owner.handle,
      keyId: owner.id,
      provider,
      model,
      stream,
      traceId,
      spanId: span.spanContext().spanId,
    };
    // Written before the upstream is asked: a proxy killed mid-call leaves a row, not a lost charge.
    const pendingId = reservation.ok ? await recorder.begin(call, worstCase) : undefined;
    let upstreamSpan: Span | undefined;
    const record = (usage: TokenUsage, status: CallStatus, httpStatus: number, output?: unknown) => {
      const cost = recorder.record(
        { ...call, usage, status, httpStatus, durationMs: performance.now() - started },
        pendingId,
      );
      if (reservation.ok) reservation.settle(cost);
      const outcome = {
        'gen_ai.usage.input_tokens': usage.input,
        'gen_ai.usage.output_tokens': usage.output,
        'beacon.cost_usd': cost,
        'beacon.status': status,
        'http.response.status_code': httpStatus,
      };
      if (upstreamSpan) endSpan(upstreamSpan, status === 'ok' ? undefined : status, outcome);
      span.setAttributes(outcome);
      generations?.record({
        parent: span,
        startTime,
        provider,
        model,
        user: owner.user,
        handle: owner.handle,
        usage,
        costUsd: cost,
        status,
        httpStatus,
        input: (json as { messages?: unknown }).messages,
        output,
      });
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

    const endUpstream = metrics.upstreamDuration.startTimer({ provider, model: recorder.modelLabel(model) });
    const upstreamError = (kind: string) => metrics.upstreamErrors.inc({ provider, kind });
    upstreamSpan = tracing.start('upstream', {
      parent: span,
      kind: SpanKind.CLIENT,
      attributes: { 'gen_ai.system': provider, 'gen_ai.request.model': model },
    });
    const { signal, response } = upstream.send(provider, upstreamBody, {
      traceId,
      traceparent: traceparentOf(upstreamSpan),
      anthropicVersion: c.req.header('anthropic-version'),
      anthropicBeta: c.req.header('anthropic-beta'),
    });
    // A failure before or while the answer is read: timed out (504) or broken (502).
    const broke = (kind: string, message: string) => {
      endUpstream();
      upstreamError(signal.aborted ? 'timeout' : kind);
      record(NO_USAGE, signal.aborted ? 'timeout' : 'upstream_error', signal.aborted ? 504 : 502);
      return signal.aborted
        ? fail(
            c,
            provider,
            504,
            'timeout',
            `upstream ${provider} did not answer within ${upstream.timeoutMs / 1000} s`,
          )
        : fail(c, provider, 502, 'upstream', message);
    };

    let res: Response;
    try {
      res = await response;
    } catch (err) {
      log.warn(
        { event: 'proxy.upstream_failed', provider, traceId, err: String(err) },
        'upstream call failed',
      );
      return broke('connect', `upstream ${provider} unreachable`);
    }

    if (!res.ok || !stream || !res.body) {
      let text: string;
      try {
        text = await res.text();
      } catch {
        return broke('read', 'upstream answer broke off');
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
      let answer: { usage?: unknown; choices?: unknown; content?: unknown } = {};
      try {
        answer = JSON.parse(text);
      } catch {}
      const usage =
        (provider === 'openai' ? fromOpenAi(answer.usage as never) : fromAnthropic(answer.usage as never)) ??
        NO_USAGE;
      const cost = record(usage, 'ok', res.status, provider === 'openai' ? answer.choices : answer.content);
      return new Response(text, {
        status: res.status,
        headers: {
          'content-type': 'application/json',
          'x-beacon-trace-id': traceId,
          [COST_HEADER]: String(cost),
        },
      });
    }

    const tracker = new StreamUsageTracker(provider);
    const body = passThrough(
      res.body,
      {
        seen: (chunk) => tracker.push(chunk),
        end: (status, httpStatus) => {
          endUpstream();
          const cost = record(tracker.usage ?? NO_USAGE, status, httpStatus);
          // The stream's call span ends with its last chunk; forward() ends the others.
          endSpan(span, status === 'ok' ? undefined : status);
          return cost;
        },
        failed: () => upstreamError(signal.aborted ? 'timeout' : 'read'),
      },
      () => signal.aborted,
    );
    const answer = new Response(body, {
      status: 200,
      headers: {
        'content-type': res.headers.get('content-type') ?? 'text/event-stream',
        'cache-control': 'no-cache',
        'x-beacon-trace-id': traceId,
      },
    });
    streams.add(answer);
    return answer;
  }

  return { forward, authenticate };
}

export type Forwarder = ReturnType<typeof createForwarder>;
