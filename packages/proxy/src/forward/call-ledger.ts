import { endSpan, type Span } from '@beacon/core';
import type { Generations } from '../clients/langfuse';
import type { Provider, TokenUsage } from '../domain/prices';
import type { CallStatus, Recorder } from '../recorder';

export interface OpenCall {
  user: string;
  handle: string | null;
  keyId: string;
  provider: Provider;
  model: string;
  stream: boolean;
  traceId: string;
  spanId: string;
}

export interface LedgerDeps {
  recorder: Recorder;
  generations?: Generations | undefined;
  call: OpenCall;
  /** The row written before the upstream was asked (none for a refused call). */
  pendingId: number | undefined;
  settle: ((costUsd: number) => void) | undefined;
  span: Span;
  startTime: Date;
  started: number;
  /** The caller's messages, for Langfuse. */
  input: unknown;
}

/**
 * How one call ends, written once wherever it ends (a refusal, a JSON answer, a stream, a failure): its usage
 * row, the reservation settled with the real cost, its spans' outcome, its Langfuse generation.
 */
export function callLedger({
  recorder,
  generations,
  call,
  pendingId,
  settle,
  span,
  startTime,
  started,
  input,
}: LedgerDeps) {
  let upstreamSpan: Span | undefined;
  return {
    upstreamStarted(s: Span) {
      upstreamSpan = s;
    },
    /** Returns the call's cost. */
    record(usage: TokenUsage, status: CallStatus, httpStatus: number, output?: unknown): number {
      const cost = recorder.record(
        { ...call, usage, status, httpStatus, durationMs: performance.now() - started },
        pendingId,
      );
      settle?.(cost);
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
        provider: call.provider,
        model: call.model,
        user: call.user,
        handle: call.handle,
        usage,
        costUsd: cost,
        status,
        httpStatus,
        input,
        output,
      });
      return cost;
    },
  };
}

export type CallLedger = ReturnType<typeof callLedger>;
