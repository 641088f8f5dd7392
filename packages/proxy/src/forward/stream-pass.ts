import type { CallStatus } from '../recorder';

export interface PassThroughHooks {
  /** Every chunk, on its way (usage is read from it). */
  seen(chunk: Uint8Array): void;
  /** Once: the call ended this way; returns what it cost. */
  end(status: CallStatus, httpStatus: number): number;
  /** A read of the upstream failed. */
  failed(): void;
}

const encoder = new TextEncoder();

/**
 * An upstream stream passed on chunk by chunk. If the client goes away the upstream is still drained (it
 * generates and bills regardless), so the recorded usage is exact; at the end an SSE comment, which SDKs
 * ignore, tells Beacon's kernel what the proxy charged.
 */
export function passThrough(
  upstream: ReadableStream<Uint8Array>,
  hooks: PassThroughHooks,
  timedOut: () => boolean,
) {
  const reader = upstream.getReader();
  let clientGone = false;
  let ended = false;
  const end = (status: CallStatus, httpStatus: number) => {
    if (ended) return 0;
    ended = true;
    return hooks.end(status, httpStatus);
  };
  const drain = async () => {
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) hooks.seen(r.value);
    } catch {
      hooks.failed();
    }
    end('client_closed', 499);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const r = await reader.read();
        if (r.done) {
          const cost = end('ok', 200);
          controller.enqueue(encoder.encode(`: beacon-cost-usd ${cost}\n\n`));
          controller.close();
          return;
        }
        hooks.seen(r.value);
        if (!clientGone) controller.enqueue(r.value);
      } catch (err) {
        hooks.failed();
        end(timedOut() ? 'timeout' : 'upstream_error', 502);
        controller.error(err);
      }
    },
    cancel() {
      clientGone = true;
      void drain();
    },
  });
}
