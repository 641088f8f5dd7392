import { cappedLabel, type Logger } from '@beacon/core';
import {
  costUsd,
  lookupPrice,
  NO_USAGE,
  type PriceTable,
  type Provider,
  type TokenUsage,
} from './domain/prices';
import type { ProxyMetrics } from './metrics';
import type { UsageStore } from './usage-store';

export type CallStatus = 'ok' | 'upstream_error' | 'timeout' | 'client_closed' | 'rejected' | 'pending';

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
  costUsd: cost,
  status: call.status,
  httpStatus: call.httpStatus,
  durationMs: Math.round(call.durationMs),
  traceId: call.traceId,
});

/**
 * Prices a call, counts it in the metrics (bounded labels) and writes its usage row.
 * Labels: `model` only from the price table (else `unknown`); `user` capped at maxUsers (else `_other`).
 */
export function createRecorder(
  writer: Pick<UsageStore, 'begin' | 'settle'>,
  metrics: ProxyMetrics,
  prices: PriceTable,
  log: Logger,
  maxUsers: number,
) {
  const unknownModels = new Set<string>();

  const userLabel = cappedLabel(maxUsers);

  const modelLabel = (model: string) => {
    const known = lookupPrice(prices, model);
    if (known) return known.name;
    if (!unknownModels.has(model) && unknownModels.size < 1000) {
      unknownModels.add(model);
      log.warn({ event: 'proxy.unknown_model', model }, `no price for model ${model}; its calls cost 0`);
    }
    return 'unknown';
  };

  return {
    userLabel,
    modelLabel,
    costOf: (model: string, u: TokenUsage) => costUsd(lookupPrice(prices, model)?.price, u),

    /** The call's `pending` row, written before its upstream call with the cost it reserved. */
    begin(call: Omit<CallRecord, 'usage' | 'status' | 'httpStatus' | 'durationMs'>, reservedUsd: number) {
      const pending = { ...call, usage: NO_USAGE, status: 'pending' as const, httpStatus: 0, durationMs: 0 };
      return writer.begin({ ...rowOf(pending, 0), reservedUsd });
    },

    /** Returns the call's cost in USD; `pendingId` settles the row begin() wrote. */
    record(call: CallRecord, pendingId?: number): number {
      const cost = costUsd(lookupPrice(prices, call.model)?.price, call.usage);
      const user = userLabel(call.user);
      const model = modelLabel(call.model);
      metrics.apiCalls.inc({ user, model, provider: call.provider, status: call.status });
      if (cost > 0) metrics.apiCost.inc({ user, model }, cost);
      const u = call.usage;
      for (const [direction, n] of [
        ['input', u.input],
        ['output', u.output],
        ['cache_read', u.cacheRead],
        ['cache_write', u.cacheWrite],
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
