import { AppError, type BusKind, SseParser } from '@beacon/core';
import type { KernelTransport } from './kernel-transport';
import type { PlatformClient } from './platform';

/** The kernel's SSE event names and the bus kinds they are. */
const KIND_OF_EVENT: Record<string, BusKind> = {
  progress: 'progress',
  result: 'results',
  error: 'errors',
  cancelled: 'cancelled',
};

/** A kernel that started moments ago refuses connections until it listens: try again for a while. */
const REFUSED_RETRIES = [50, 100, 200, 400, 800, 1000, 1000, 1000];

async function withRetry(call: () => Promise<Response>, signal: AbortSignal): Promise<Response> {
  for (const delay of REFUSED_RETRIES) {
    try {
      return await call();
    } catch (err) {
      if ((err as { code?: string }).code !== 'ECONNREFUSED' || signal.aborted) throw err;
      await Bun.sleep(delay);
    }
  }
  return call();
}

/** A kernel over HTTP (no NATS): POST http://<its address>/v1/dispatch, answered as an SSE stream. */
export function createHttpTransport(platform: Pick<PlatformClient, 'resolve'>): KernelTransport {
  /** Where a handle's kernel answers and the headers it asks for (its token); `running`: refused unless it runs. */
  async function kernelOf(handle: string, traceparent: string, running = false) {
    const kernel = await platform.resolve(handle);
    if (!kernel.address || (running && kernel.state !== 'running'))
      throw new AppError('unavailable', `${handle} is not running`);
    const auth: Record<string, string> = kernel.token ? { authorization: `Bearer ${kernel.token}` } : {};
    return { base: `http://${kernel.address}`, headers: { traceparent, ...auth } };
  }
  return {
    name: 'http',
    /** Each message the kernel streams is handed on as (kind, data). */
    async send(handle, command, { traceparent, signal, accepted, message }): Promise<void> {
      const kernel = await kernelOf(handle, traceparent, true);
      const res = await withRetry(
        () =>
          fetch(`${kernel.base}/v1/dispatch`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...kernel.headers },
            body: JSON.stringify(command),
            signal,
          }),
        signal,
      ).catch((err) => {
        throw new AppError('bad_gateway', `the kernel of ${handle} did not take the message`, {}, err);
      });
      if (!res.ok || !res.body)
        throw new AppError('bad_gateway', `kernel of ${handle} answered ${res.status}`);
      accepted();
      const parser = new SseParser();
      const reader = res.body.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read())
        for (const e of parser.push(r.value)) {
          const kind = KIND_OF_EVENT[e.event];
          if (kind) message(kind, JSON.parse(e.data));
        }
    },
    /** The kernel stops the task and ends its stream with `cancelled` (a dispatch past its deadline has ended it). */
    async cancel(handle, taskId, _traceId, traceparent) {
      const kernel = await kernelOf(handle, traceparent);
      const res = await fetch(`${kernel.base}/v1/tasks/${encodeURIComponent(taskId)}/cancel`, {
        method: 'POST',
        headers: kernel.headers,
        signal: AbortSignal.timeout(5000),
      });
      if (res.status === 404) throw new AppError('conflict', `task ${taskId} is not running in ${handle}`);
      if (!res.ok)
        throw new AppError('bad_gateway', `kernel of ${handle} answered ${res.status} to the cancel`);
    },
  };
}
