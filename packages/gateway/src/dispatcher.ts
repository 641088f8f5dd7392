import {
  AppError,
  type Command,
  type EventBus,
  type Logger,
  type SseBroadcaster,
  SseParser,
  streams,
  subjects,
  withoutAddresses,
} from '@beacon/core';
import type { PlatformClient } from './clients/platform';
import type { InteractionLogger } from './interaction-logger';
import type { GatewayMetrics } from './metrics';
import type { Task, TaskStore, TaskUpdate } from './tasks';

export type Source = 'web' | 'api' | 'channel';
export type DispatchStatus = 'ok' | 'error' | 'timeout' | 'cancelled';

export interface DispatchRequest {
  handle: string;
  text: string;
  source: Source;
  sessionId?: string;
  /** Every update of the task as it happens (the web shell streams them). */
  onUpdate?: (u: TaskUpdate) => void;
}

export interface DispatchOutcome {
  status: DispatchStatus;
  task: Task;
}

export interface DispatcherDeps {
  bus: EventBus;
  platform: PlatformClient;
  tasks: TaskStore;
  sse: SseBroadcaster;
  metrics: GatewayMetrics;
  log: Logger;
  interactions: InteractionLogger;
  /** Kernel messages that came by HTTP are applied exactly like bus messages. */
  applyKernelMessage: (message: { subject: string; data: unknown }) => void;
  /** nats: commands on beacon.<handle>.commands; http: POST http://<container>:7681/v1/dispatch. */
  transport: 'nats' | 'http';
  timeoutMs: number;
}

const KIND_OF_EVENT: Record<string, string> = {
  progress: 'progress',
  result: 'results',
  error: 'errors',
  cancelled: 'cancelled',
};
const SETTLED: Record<string, DispatchStatus> = { completed: 'ok', failed: 'error', cancelled: 'cancelled' };

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

/**
 * Sends a user's message to the kernel of its handle and follows the task to its end: the trace id made
 * here travels with the command (NATS header or HTTP body) into the kernel's proxy call.
 */
export function createDispatcher(deps: DispatcherDeps) {
  const { bus, platform, tasks, sse, metrics, log, interactions, timeoutMs } = deps;

  /** HTTP transport: the kernel answers the dispatch with an SSE stream of its messages. */
  async function overHttp(command: Command, handle: string, signal: AbortSignal, accept: () => void) {
    const kernel = await platform.resolve(handle);
    if (!kernel.ip || kernel.state !== 'running')
      throw new AppError('unavailable', `${handle} is not running`);
    const res = await withRetry(
      () =>
        fetch(`http://${kernel.ip}:7681/v1/dispatch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(command),
          signal,
        }),
      signal,
    ).catch((err) => {
      throw new AppError('bad_gateway', `the kernel of ${handle} did not take the message`, {}, err);
    });
    if (!res.ok || !res.body) throw new AppError('bad_gateway', `kernel of ${handle} answered ${res.status}`);
    accept();
    const parser = new SseParser();
    const reader = res.body.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      for (const e of parser.push(r.value)) {
        const kind = KIND_OF_EVENT[e.event];
        if (kind)
          deps.applyKernelMessage({
            subject: subjects.kernel(handle, kind as 'progress'),
            data: JSON.parse(e.data),
          });
      }
    }
  }

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
    const taskId = crypto.randomUUID();
    const traceId = crypto.randomUUID();
    const tlog = log.child({ traceId, taskId, handle: req.handle });
    const task = tasks.create(taskId, req.handle, traceId);
    task.source = req.source;
    const started = performance.now();
    metrics.dispatchQueueDepth.inc();
    sse.broadcast('dispatch.started', { taskId, traceId, handle: req.handle, source: req.source });
    tlog.info(
      { event: 'router.task_dispatched', source: req.source, transport: deps.transport },
      'dispatched',
    );

    const { promise: accepted, resolve, reject } = Promise.withResolvers<void>();
    accepted.catch(() => {});
    return { task, accepted, done: follow(req, task, started, resolve, reject) };
  }

  /** Into the commands stream, or a 503 at once: never a command that only looks sent. */
  async function publishCommand(handle: string, command: Command) {
    try {
      await bus.publishDurable(subjects.commands(handle), command, {
        traceId: command.traceId,
        stream: streams.commands,
      });
    } catch (err) {
      throw new AppError(
        'unavailable',
        'the message bus (NATS) is unavailable: the message was not sent; try again',
        { 'retry-after': '5' },
        err,
      );
    }
  }

  async function follow(
    req: DispatchRequest,
    task: Task,
    started: number,
    accept: () => void,
    refuse: (err: unknown) => void,
  ): Promise<DispatchOutcome> {
    const { id: taskId, traceId } = task;
    const tlog = log.child({ traceId, taskId, handle: req.handle });
    const abort = new AbortController();
    let unwatch = () => {};
    const settled = new Promise<DispatchStatus>((resolve) => {
      unwatch = tasks.watch(taskId, (u) => {
        req.onUpdate?.(u);
        const status = SETTLED[u.task.status];
        if (status) resolve(status);
      });
    });
    const timer = new Promise<DispatchStatus>((resolve) => {
      const t = setTimeout(() => resolve('timeout'), timeoutMs);
      abort.signal.addEventListener('abort', () => clearTimeout(t));
    });
    const command: Command = {
      taskId,
      traceId,
      text: req.text,
      source: req.source,
      ...(req.sessionId ? { sessionId: req.sessionId } : {}),
    };
    const sent =
      deps.transport === 'nats'
        ? publishCommand(req.handle, command).then(() => {
            accept();
            return new Promise<never>(() => {});
          })
        : overHttp(command, req.handle, abort.signal, accept).then(() => settled);
    sent.catch(refuse);
    let status: DispatchStatus;
    try {
      status = await Promise.race([settled, timer, sent.catch((err) => Promise.reject(err))]);
    } catch (err) {
      status = 'error';
      task.status = 'failed';
      // The caller reads this: words, never an address; the cause is in the log under the trace id.
      task.error = {
        code: err instanceof AppError ? err.code : 'dispatch_failed',
        message: err instanceof AppError ? withoutAddresses(err.message) : 'the dispatch failed',
      };
      tlog.warn(
        { event: 'router.dispatch_failed', err: String(err), cause: String((err as Error).cause ?? '') },
        'dispatch failed',
      );
    } finally {
      // Ended before the kernel's side had it (a no-op once accepted): the async caller is not left waiting.
      refuse(new AppError('unavailable', `${req.handle} did not take the message`));
      abort.abort();
      unwatch();
      metrics.dispatchQueueDepth.dec();
    }
    if (status === 'timeout') {
      task.status = 'timeout';
      task.error = { code: 'timeout', message: `no answer from ${req.handle} within ${timeoutMs / 1000} s` };
      if (deps.transport === 'nats')
        void bus
          .publishDurable(
            subjects.commands(req.handle),
            { type: 'cancel', taskId },
            { traceId, stream: streams.commands },
          )
          .catch(() => {});
    }
    task.updatedAt = new Date().toISOString();
    tasks.save(task);
    const durationMs = Math.round(performance.now() - started);
    const result = task.result;
    metrics.dispatchTotal.inc({ source: req.source, status });
    metrics.dispatchDuration.observe({ source: req.source }, durationMs / 1000);
    if (result) {
      metrics.aiCost.inc({ model: result.model }, result.usage.costUsd);
      metrics.aiTokens.inc({ model: result.model, direction: 'input' }, result.usage.inputTokens);
      metrics.aiTokens.inc({ model: result.model, direction: 'output' }, result.usage.outputTokens);
    }
    sse.broadcast('dispatch.completed', {
      taskId,
      traceId,
      handle: req.handle,
      source: req.source,
      status,
      durationMs,
      costUsd: result?.usage.costUsd ?? 0,
    });
    tlog.info(
      { event: 'router.task_completed', status, durationMs, costUsd: result?.usage.costUsd ?? 0 },
      'dispatch ended',
    );
    await interactions.write({
      timestamp: new Date().toISOString(),
      traceId,
      source: req.source,
      handle: req.handle,
      sessionId: req.sessionId ?? null,
      prompt: req.text,
      toolsUsed: result?.toolsUsed ?? [],
      tokens: { input: result?.usage.inputTokens ?? 0, output: result?.usage.outputTokens ?? 0 },
      costUsd: result?.usage.costUsd ?? 0,
      model: result?.model ?? null,
      durationMs,
      status,
    });
    return { status, task };
  }

  /** 404 for an unknown handle, 503 for one whose container is not running. */
  async function ensureRunning(handle: string): Promise<void> {
    const kernel = await platform.resolve(handle);
    if (kernel.state !== 'running')
      throw new AppError('unavailable', `${handle} is ${kernel.state}, not running`);
  }

  return { dispatch, ensureRunning };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
