import { endSpan, type Span } from '@beacon/core';
import type { Context } from 'hono';
import { APIS, type Api } from '../domain/apis';
import { NO_USAGE } from '../domain/prices';
import { answerUsage, StreamUsageTracker } from '../domain/usage';
import type { CallStatus } from '../recorder';
import type { CallLedger } from './call-ledger';
import { COST_HEADER, fail } from './reply';
import { passThrough } from './stream-pass';

export interface AnswerContext {
  c: Context;
  api: Api;
  traceId: string;
  ledger: CallLedger;
  /** The upstream's answer time is over; `kind` counts an upstream error. */
  endUpstream: () => void;
  upstreamError: (kind: string) => void;
  /** A failure while the answer is read: timed out or broken. */
  broke: (kind: string, message: string) => Response;
  signal: AbortSignal;
  /** A response (or conversation) the upstream keeps: recorded as the caller's. */
  stored: (id: string) => void;
}

/** The ids a Responses answer leaves at the upstream: the response's own, and its conversation's. */
function keep(a: AnswerContext, answer: { id?: unknown; conversation?: unknown }) {
  if (typeof answer.id === 'string') a.stored(answer.id);
  const conversation = answer.conversation as { id?: unknown } | null | undefined;
  if (typeof conversation?.id === 'string') a.stored(conversation.id);
}

/** A Responses answer's own status (completed, incomplete, failed) as the call's. */
const endOf = (status: unknown): CallStatus =>
  status === 'incomplete' ? 'incomplete' : status === 'failed' ? 'failed' : 'ok';

/** An upstream error, or a whole JSON answer: read, its usage recorded, passed on with its cost. */
export async function jsonAnswer(res: Response, a: AnswerContext): Promise<Response> {
  const { c, traceId, ledger } = a;
  const provider = APIS[a.api].kind;
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
  let answer: Record<string, unknown> = {};
  try {
    answer = JSON.parse(text);
  } catch {}
  const { usage, output } = answerUsage(a.api, answer);
  if (a.api === 'responses') keep(a, answer);
  const cost = ledger.record(usage ?? NO_USAGE, endOf(answer.status), res.status, output);
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
  const tracker = new StreamUsageTracker(a.api);
  const passed = passThrough(
    body,
    {
      seen: (chunk) => tracker.push(chunk),
      end: (status, httpStatus) => {
        a.endUpstream();
        if (tracker.responseId) a.stored(tracker.responseId);
        // A Responses stream that ended incomplete or failed is recorded so, with what it used.
        const ended = status === 'ok' && tracker.ended && tracker.ended !== 'ok' ? tracker.ended : status;
        const cost = a.ledger.record(tracker.usage ?? NO_USAGE, ended, httpStatus);
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
