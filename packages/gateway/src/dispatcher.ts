import {
  AppError,
  type Command,
  endSpan,
  resultAttributes,
  type Span,
  SpanKind,
  type Tracing,
  traceparentOf,
} from '@beacon/core';
import type { KernelTransport } from './clients/kernel-transport';
import type { PlatformClient } from './clients/platform';
import { type DispatchStatus, OUTCOME, type Source, type TaskLedger } from './ledger';
import type { Task, TaskUpdate } from './tasks';

export type { DispatchStatus, Source } from './ledger';

export interface DispatchRequest {
  handle: string;
  text: string;
  source: Source;
  sessionId?: string;
  /** The caller's W3C trace context: the dispatch joins its trace. */
  traceparent?: string | undefined;
  /** Every update of the task as it happens (the web shell streams them). */
  onUpdate?: (u: TaskUpdate) => void;
}

export interface DispatchOutcome {
  status: DispatchStatus;
  task: Task;
}

export interface DispatcherDeps {
  platform: Pick<PlatformClient, 'resolve'>;
  ledger: TaskLedger;
  transport: KernelTransport;
  timeoutMs: number;
  tracing: Pick<Tracing, 'start'>;
}

/**
 * Sends a user's message to the kernel of its handle and waits for its task to end: the trace id made for
 * the task travels with the command (NATS header or HTTP body) into the kernel's proxy call. What happens to
 * the task is the ledger's: this only sends, waits, and says when it is over.
 */
export function createDispatcher({ platform, ledger, transport, timeoutMs, tracing }: DispatcherDeps) {
  /**
   * Starts a dispatch: the task exists at once; `accepted` resolves once the kernel's side has the command
   * (stored in JetStream, or taken by the kernel over HTTP) and rejects if it never will; `done` settles
   * when the kernel has answered (or not).
   */
  function dispatch(req: DispatchRequest): {
    task: Task;
    accepted: Promise<void>;
    done: Promise<DispatchOutcome>;
  } {
    // The dispatch's span: the trace the kernel's run, the proxy's call and the upstream call belong to.
    const span = tracing.start('dispatch', {
      traceparent: req.traceparent,
      kind: SpanKind.SERVER,
      attributes: {
        'beacon.handle': req.handle,
        'beacon.source': req.source,
        'beacon.transport': transport.name,
      },
    });
    const task = ledger.dispatched(req.handle, req.source, transport.name, span);
    const { promise: accepted, resolve, reject } = Promise.withResolvers<void>();
    accepted.catch(() => {});
    return { task, accepted, done: follow(req, task, span, performance.now(), resolve, reject) };
  }

  async function follow(
    req: DispatchRequest,
    task: Task,
    span: Span,
    started: number,
    accept: () => void,
    refuse: (err: unknown) => void,
  ): Promise<DispatchOutcome> {
    const abort = new AbortController();
    let unwatch = () => {};
    const settled = new Promise<DispatchStatus>((resolve) => {
      unwatch = ledger.watch(task.id, (u) => {
        req.onUpdate?.(u);
        const status = OUTCOME[u.task.status];
        if (status) resolve(status);
      });
    });
    const timer = new Promise<DispatchStatus>((resolve) => {
      const t = setTimeout(() => resolve('timeout'), timeoutMs);
      abort.signal.addEventListener('abort', () => clearTimeout(t));
    });
    const command: Command = {
      taskId: task.id,
      traceId: task.traceId,
      text: req.text,
      source: req.source,
      ...(req.sessionId ? { sessionId: req.sessionId } : {}),
    };
    const traceparent = traceparentOf(span);
    const sent = transport
      .send(req.handle, command, {
        traceparent,
        signal: abort.signal,
        accepted: accept,
        message: (kind, data) => ledger.kernel(kind, req.handle, data),
      })
      .then(() => settled);
    sent.catch(refuse);
    let status: DispatchStatus;
    try {
      status = await Promise.race([settled, timer, sent]);
    } catch (err) {
      status = 'error';
      ledger.failed(task, err);
    } finally {
      // Ended before the kernel's side had it (a no-op once accepted): the async caller is not left waiting.
      refuse(new AppError('unavailable', `${req.handle} did not take the message`));
      // With a reason: without one, abort() makes a DOMException (a stack capture) for every dispatch.
      abort.abort('the dispatch is over');
      unwatch();
    }
    if (status === 'timeout') {
      ledger.timedOut(task, timeoutMs);
      void transport.cancel(req.handle, task.id, task.traceId, traceparent).catch(() => {});
    }
    ledger.ended(task, status, { started, prompt: req.text, sessionId: req.sessionId, span });
    endSpan(span, status === 'ok' ? undefined : (task.error?.message ?? status), {
      'beacon.status': status,
      'beacon.task_id': task.id,
      ...(task.result ? resultAttributes(task.result) : {}),
    });
    return { status, task };
  }

  /** 404 for an unknown handle, 503 for one whose container is not running. */
  async function ensureRunning(handle: string): Promise<void> {
    const found = await platform.resolve(handle);
    if (found.state !== 'running')
      throw new AppError('unavailable', `${handle} is ${found.state}, not running`);
  }

  /** A caller's cancel of a running task (this gateway's or another's: the kernel is told either way). */
  async function cancel(task: Pick<Task, 'id' | 'handle' | 'traceId' | 'status'>): Promise<void> {
    if (task.status !== 'running')
      throw new AppError('conflict', `task ${task.id} is ${task.status}, not running`);
    await transport.cancel(task.handle, task.id, task.traceId, '');
  }

  return { dispatch, ensureRunning, cancel };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
