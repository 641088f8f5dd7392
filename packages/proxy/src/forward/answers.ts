import { endSpan, type Span } from '@beacon/core';
import type { Context } from 'hono';
import { NO_USAGE, type Provider } from '../domain/prices';
import { fromAnthropic, fromOpenAi, StreamUsageTracker } from '../domain/usage';
import type { CallLedger } from './call-ledger';
import { COST_HEADER, fail } from './reply';
import { passThrough } from './stream-pass';

export interface AnswerContext {
  c: Context;
  provider: Provider;
  traceId: string;
  ledger: CallLedger;
  /** The upstream's answer time is over; `kind` counts an upstream error. */
  endUpstream: () => void;
  upstreamError: (kind: string) => void;
  /** A failure while the answer is read: timed out or broken. */
  broke: (kind: string, message: string) => Response;
  signal: AbortSignal;
}

/** An upstream error, or a whole JSON answer: read, its usage recorded, passed on with its cost. */
export async function jsonAnswer(res: Response, a: AnswerContext): Promise<Response> {
  const { c, provider, traceId, ledger } = a;
  let text: string;
  try {
    text = await res.text();
  } catch {
    return a.broke('read', 'upstream answer broke off');
  }
  a.endUpstream();
  if (!res.ok) {
    a.upstreamError(`http_${res.status}`);
    ledger.record(NO_USAGE, 'upstream_error', res.status >= 500 ? 502 : res.status);
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
  const cost = ledger.record(
    usage,
    'ok',
    res.status,
    provider === 'openai' ? answer.choices : answer.content,
  );
  return new Response(text, {
    status: res.status,
    headers: {
      'content-type': 'application/json',
      'x-beacon-trace-id': traceId,
      [COST_HEADER]: String(cost),
    },
  });
}

/** A stream passed on chunk by chunk; its usage is read on the way and recorded, and its span ended, at its end. */
export function streamAnswer(
  body: ReadableStream<Uint8Array>,
  contentType: string | null,
  span: Span,
  a: AnswerContext,
) {
  const tracker = new StreamUsageTracker(a.provider);
  const passed = passThrough(
    body,
    {
      seen: (chunk) => tracker.push(chunk),
      end: (status, httpStatus) => {
        a.endUpstream();
        const cost = a.ledger.record(tracker.usage ?? NO_USAGE, status, httpStatus);
        endSpan(span, status === 'ok' ? undefined : status);
        return cost;
      },
      failed: () => a.upstreamError(a.signal.aborted ? 'timeout' : 'read'),
    },
    () => a.signal.aborted,
  );
  return new Response(passed, {
    status: 200,
    headers: {
      'content-type': contentType ?? 'text/event-stream',
      'cache-control': 'no-cache',
      'x-beacon-trace-id': a.traceId,
    },
  });
}
