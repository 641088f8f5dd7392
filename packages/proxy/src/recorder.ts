import { cappedLabel, type Logger } from '@beacon/core';
import { NO_USAGE, type Provider, type TokenUsage } from './domain/prices';
import type { ProxyMetrics } from './metrics';
import type { PriceBook } from './prices';
import type { UsageStore } from './usage-store';

export type CallStatus =
  | 'ok'
  | 'incomplete'
  | 'failed'
  | 'upstream_error'
  | 'timeout'
  | 'client_closed'
  | 'rejected'
  | 'pending';

export interface CallRecord {
  user: string;
  handle: string | null;
  keyId: string | null;
  provider: Provider;
  model: string;
  stream: boolean;
  usage: TokenUsage;
  status: CallStatus;
  httpStatus: number;
  durationMs: number;
  traceId: string;
  /** The proxy's span of the call, for the log line (not stored). */
  spanId?: string;
}

const rowOf = (call: CallRecord, cost: number) => ({
  at: new Date(),
  user: call.user,
  handle: call.handle,
  keyId: call.keyId,
  provider: call.provider,
  model: call.model,
  stream: call.stream,
  inputTokens: call.usage.input,
  outputTokens: call.usage.output,
  cacheReadTokens: call.usage.cacheRead,
  cacheWriteTokens: call.usage.cacheWrite,
  reasoningTokens: call.usage.reasoning ?? 0,
  costUsd: cost,
  status: call.status,
  httpStatus: call.httpStatus,
  durationMs: Math.round(call.durationMs),
  traceId: call.traceId,
});

/** Unpriced models listed by GET /api/prices?unpriced=true (callers choose model names: bounded). */
const MAX_UNPRICED = 1000;

/**
 * Prices a call, counts it in the metrics (bounded labels) and writes its usage row.
 * Labels: `model` only from the price book (else `unknown`); `user` capped at maxUsers (else `_other`).
 * A call to a model with no price is never a silent $0: counted by model, logged once, listed.
 */
export function createRecorder(
  writer: Pick<UsageStore, 'begin' | 'settle'>,
  metrics: ProxyMetrics,
  prices: PriceBook,
  log: Logger,
  maxUsers: number,
) {
  const unpriced = new Map<string, { calls: number; firstAt: string }>();
  const userLabel = cappedLabel(maxUsers);
  const unpricedLabel = cappedLabel(maxUsers);

  const modelLabel = (model: string, kind?: Provider) => prices.rates(model, kind)?.name ?? 'unknown';

  function countUnpriced(model: string) {
    metrics.unpricedCalls.inc({ model: unpricedLabel(model) });
    const seen = unpriced.get(model);
    if (seen) seen.calls++;
    else if (unpriced.size < MAX_UNPRICED) {
      unpriced.set(model, { calls: 1, firstAt: new Date().toISOString() });
      log.warn(
        { event: 'proxy.unpriced_model', model },
        `no price for model ${model}; its calls are charged 0`,
      );
    }
  }

  return {
    userLabel,
    modelLabel,
    costOf: (model: string, u: TokenUsage, kind?: Provider) => prices.costOf(model, u, kind),
    /** Models called without a price since this proxy started, with their call counts. */
    unpriced: () => [...unpriced].map(([model, v]) => ({ model, ...v })),

    /** The call's `pending` row, written before its upstream call with the cost it reserved. */
    begin(call: Omit<CallRecord, 'usage' | 'status' | 'httpStatus' | 'durationMs'>, reservedUsd: number) {
      const pending = { ...call, usage: NO_USAGE, status: 'pending' as const, httpStatus: 0, durationMs: 0 };
      return writer.begin({ ...rowOf(pending, 0), reservedUsd });
    },

    /** Returns the call's cost in USD; `pendingId` settles the row begin() wrote. */
    record(call: CallRecord, pendingId?: number): number {
      const rates = prices.rates(call.model, call.provider);
      const cost = prices.costOf(call.model, call.usage, call.provider);
      const user = userLabel(call.user);
      const model = rates?.name ?? 'unknown';
      if (!rates && call.status !== 'rejected') countUnpriced(call.model);
      metrics.apiCalls.inc({ user, model, provider: call.provider, status: call.status });
      if (cost > 0) metrics.apiCost.inc({ user, model }, cost);
      const u = call.usage;
      for (const [direction, n] of [
        ['input', u.input],
        ['output', u.output],
        ['cache_read', u.cacheRead],
        ['cache_write', u.cacheWrite],
        ['reasoning', u.reasoning ?? 0],
      ] as const) {
        if (n > 0) metrics.apiTokens.inc({ user, model, direction }, n);
      }
      const row = { ...rowOf(call, cost), reservedUsd: null };
      writer.settle(pendingId, row);
      // One line per call, so logs alone (Loki) find every AI call with its cost, tokens and duration.
      const { at: _at, keyId: _keyId, reservedUsd: _reserved, ...fields } = row;
      log.info({ event: 'proxy.call', ...fields, spanId: call.spanId }, 'AI call recorded');
      return cost;
    },
  };
}

export type Recorder = ReturnType<typeof createRecorder>;
