import { endSpan, type Logger, type Span, SpanKind, type Tracing, traceparentOf } from '@beacon/core';
import type { Context } from 'hono';
import type { Generations } from '../clients/langfuse';
import type { UpstreamClient } from '../clients/upstream';
import { APIS, type Api } from '../domain/apis';
import { worstCaseUsd } from '../domain/budget';
import { outputToReserve } from '../domain/output-limit';
import { NO_USAGE } from '../domain/prices';
import { providerError } from '../domain/provider-errors';
import { budgetRefusal } from '../domain/refusal-words';
import type { ProxyMetrics } from '../metrics';
import type { PriceBook } from '../prices';
import type { QuotaGuard } from '../quotas/guard';
import type { Recorder } from '../recorder';
import type { ResponseOwners } from '../response-owners';
import { createAdmission } from './admit';
import { jsonAnswer, streamAnswer } from './answers';
import type { Authenticator } from './authenticate';
import { callLedger } from './call-ledger';
import { fail } from './reply';

export interface ForwarderDeps {
  upstream: UpstreamClient;
  authenticator: Authenticator;
  quotas: QuotaGuard;
  recorder: Recorder;
  metrics: ProxyMetrics;
  log: Logger;
  tracing: Pick<Tracing, 'start'>;
  prices: Pick<PriceBook, 'rates'>;
  owners: ResponseOwners;
  /** With Langfuse configured: each call as a generation. */
  generations?: Generations | undefined;
  /** Output tokens reserved for a call without max_tokens (BEACON_DEFAULT_MAX_TOKENS), unless its quota says. */
  defaultMaxTokens?: number | undefined;
}

/** Forwards one AI call: authenticate, reserve budget, call upstream, pass the answer through, record usage. */
export function createForwarder({
  upstream,
  authenticator,
  quotas,
  recorder,
  metrics,
  log,
  defaultMaxTokens,
  tracing,
  prices,
  owners,
  generations,
}: ForwarderDeps) {
  const { away } = authenticator;
  const admit = createAdmission(authenticator, owners, upstream);

  /** Answers passing a stream through: their span ends with the stream. */
  const streams = new WeakSet<Response>();

  /** One call, in its span (a child of the caller's `traceparent`): ended here unless a stream ends it later. */
  async function forward(c: Context, api: Api): Promise<Response> {
    const traceparent = c.req.header('traceparent');
    const span = tracing.start('proxy.call', {
      traceparent,
      kind: SpanKind.SERVER,
      attributes: { 'gen_ai.system': APIS[api].kind },
    });
    const res = await call(c, api, span, traceparent);
    if (!streams.has(res))
      endSpan(span, res.status >= 400 ? `HTTP ${res.status}` : undefined, {
        'http.response.status_code': res.status,
      });
    return res;
  }

  async function call(c: Context, api: Api, span: Span, traceparent?: string): Promise<Response> {
    const started = performance.now();
    const startTime = new Date();
    const provider = APIS[api].kind;
    const traceId = traceparent
      ? span.spanContext().traceId
      : c.req.header('x-beacon-trace-id') || span.spanContext().traceId;
    c.header('x-beacon-trace-id', traceId);
    const admitted = await admit(c, api);
    if (admitted instanceof Response) return admitted;
    const { owner, json, parsed, upstreams } = admitted;
    const { model, stream, upstreamBody } = parsed;
    span.setAttributes({
      'gen_ai.request.model': model,
      'gen_ai.operation.name': api,
      'beacon.user': owner.user,
      'beacon.stream': stream,
      ...(owner.handle ? { 'beacon.handle': owner.handle } : {}),
    });
    const metricUser = recorder.userLabel(owner.user);
    const quota = await quotas.limitsOf(owner.user).catch((err: unknown) => away(c, provider, err));
    if (quota instanceof Response) return quota;
    const output = outputToReserve(api, parsed.output, {
      quota: quota?.defaultMaxTokens,
      global: defaultMaxTokens,
      model: prices.rates(model, provider)?.maxOutput,
    });
    const worstCase = worstCaseUsd(
      (u) => recorder.costOf(model, u, provider),
      upstreamBody.length,
      output.tokens,
    );
    const reservation = await quotas
      .reserve(owner.user, metricUser, worstCase, quota)
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
    const ledger = callLedger({
      recorder,
      generations,
      call,
      pendingId,
      settle: reservation.ok ? reservation.settle : undefined,
      span,
      startTime,
      started,
      input: json.messages ?? json.input,
    });
    if (!reservation.ok) {
      metrics.quotaRejections.inc({ user: metricUser });
      ledger.record(NO_USAGE, 'rejected', 429);
      log.info(
        { event: 'proxy.quota_rejected', user: owner.user, reason: reservation.reason, traceId },
        reservation.message,
      );
      const retry = { 'retry-after': String(reservation.retryAfterSeconds), 'x-should-retry': 'false' };
      const { message, detail } = budgetRefusal(api, reservation, { usd: worstCase, ...output });
      return c.json(
        providerError(provider, 'budget_exceeded', message, detail && { budget: detail }),
        429,
        retry,
      );
    }

    const endUpstream = metrics.upstreamDuration.startTimer({
      provider,
      model: recorder.modelLabel(model, provider),
    });
    const upstreamError = (kind: string) => metrics.upstreamErrors.inc({ provider, kind });
    const upstreamSpan = tracing.start('upstream', {
      parent: span,
      kind: SpanKind.CLIENT,
      attributes: { 'gen_ai.system': provider, 'gen_ai.request.model': model },
    });
    ledger.upstreamStarted(upstreamSpan);
    const { signal, answer: sent } = upstream.send(upstreams, {
      method: 'POST',
      path: APIS[api].path,
      body: upstreamBody,
      call: {
        traceId,
        traceparent: traceparentOf(upstreamSpan),
        anthropicVersion: c.req.header('anthropic-version'),
        anthropicBeta: c.req.header('anthropic-beta'),
      },
    });
    // A failure before or while the answer is read: timed out (504) or broken (502).
    const broke = (kind: string, message: string) => {
      endUpstream();
      upstreamError(signal.aborted ? 'timeout' : kind);
      ledger.record(NO_USAGE, signal.aborted ? 'timeout' : 'upstream_error', signal.aborted ? 504 : 502);
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
    let served: string;
    try {
      ({ response: res, upstream: served } = await sent);
    } catch (err) {
      log.warn(
        { event: 'proxy.upstream_failed', provider, traceId, err: String(err) },
        'upstream call failed',
      );
      return broke('connect', `upstream ${provider} unreachable`);
    }

    // A stored response is answered later only to its user, by the upstream that keeps it.
    const stored = (id: string) => owners.record(id, { user: owner.user, upstream: served });
    const answer = { c, api, traceId, ledger, endUpstream, upstreamError, broke, signal, stored };
    if (!res.ok || !stream || !res.body) return jsonAnswer(res, answer);
    const streamed = streamAnswer(res.body, res.headers.get('content-type'), span, answer);
    // The stream's call span ends with its last chunk; forward() ends the others.
    streams.add(streamed);
    return streamed;
  }

  return { forward };
}

export type Forwarder = ReturnType<typeof createForwarder>;
