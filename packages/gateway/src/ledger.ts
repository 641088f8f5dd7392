import {
  AppError,
  type BusKind,
  busSchemas,
  type Logger,
  type Span,
  type SseBroadcaster,
  subjects,
  traceFields,
  withoutAddresses,
} from '@beacon/core';
import type { z } from 'zod';
import type { InteractionLogger } from './interaction-logger';
import type { GatewayMetrics } from './metrics';
import type { Task, TaskStore, TaskUpdate } from './tasks';

export type Source = 'web' | 'api' | 'channel';
export type DispatchStatus = 'ok' | 'error' | 'timeout' | 'cancelled';

export interface LedgerDeps {
  tasks: TaskStore;
  sse: SseBroadcaster;
  metrics: GatewayMetrics;
  log: Logger;
  interactions: Pick<InteractionLogger, 'write'>;
}

/** The kinds that end a task: the second copy of an end (core NATS and JetStream) is dropped. */
const ENDS = new Set<BusKind>(['results', 'errors', 'cancelled']);
/** Ends this gateway remembers having applied. */
const ENDS_KEPT = 10_000;

/** How a dispatch ends, from its task's status. */
export const OUTCOME: Record<string, DispatchStatus> = {
  completed: 'ok',
  failed: 'error',
  cancelled: 'cancelled',
};

/**
 * Every transition of a task, in one place: dispatched, progress, question, result, error, cancelled, kernel gone,
 * failed to send, timed out, ended. Each is written to the task, told on SSE and to the task's watchers, and at
 * the end counted, logged and kept in the interaction log. The bus bridge and the transports only hand it what
 * they received.
 */
export function createTaskLedger({ tasks, sse, metrics, log, interactions }: LedgerDeps) {
  /** Tasks being read from the store, with their messages queued behind. */
  const loading = new Map<string, Promise<void>>();
  /**
   * Tasks whose end this gateway has applied (and told its SSE clients). Its own, not the stored status:
   * on a shared database another gateway may have stored the end first, and this one's clients must
   * still hear it, once.
   */
  const endedHere = new Set<string>();
  const tell = (update: TaskUpdate, payload: Record<string, unknown>) => {
    sse.broadcast(update.type, payload);
    tasks.notify(update);
  };

  /** What each kind of kernel message does to its task; returns the SSE event type. */
  const apply: { [K in BusKind]: (task: Task, data: z.infer<(typeof busSchemas)[K]>) => string } = {
    progress(task, p) {
      if (p.delta) tasks.appendOutput(task, p.delta);
      if (p.message) task.lastMessage = p.message;
      return 'task.progress';
    },
    questions(task, q) {
      task.question = q.question;
      return 'task.question';
    },
    results(task, { taskId: _id, traceId: _trace, ...result }) {
      task.status = 'completed';
      task.result = result;
      return 'task.completed';
    },
    errors(task, e) {
      task.status = 'failed';
      task.error = e.error;
      return 'task.failed';
    },
    cancelled(task) {
      task.status = 'cancelled';
      return 'task.cancelled';
    },
  };

  return {
    /** A dispatch starts: its task exists at once, its trace id the dispatch span's. */
    dispatched(handle: string, source: Source, transport: string, span: Span): Task {
      const { traceId, spanId } = traceFields(span);
      const task = tasks.create(crypto.randomUUID(), handle, traceId);
      task.source = source;
      metrics.dispatchQueueDepth.inc();
      sse.broadcast('dispatch.started', { taskId: task.id, traceId: task.traceId, handle, source });
      log.info(
        {
          event: 'router.task_dispatched',
          traceId,
          spanId,
          taskId: task.id,
          handle,
          source,
          transport,
        },
        'dispatched',
      );
      return task;
    },

    /**
     * A message of the task's kernel, over the bus or HTTP alike: checked against its schema (an invalid one is
     * counted and dropped; `quiet` drops it without a word), and applied once — a task's end may come twice
     * (core NATS and JetStream; a redelivery after a restart).
     */
    kernel(kind: BusKind, handle: string, raw: unknown, { quiet = false } = {}): void {
      const checked = busSchemas[kind].safeParse(raw);
      if (!checked.success) {
        if (quiet) return;
        metrics.busInvalid.inc({ kind });
        log.warn(
          {
            event: 'bus.invalid_message',
            subject: subjects.kernel(handle, kind),
            problem: checked.error.message,
          },
          'dropped an invalid bus message',
        );
        return;
      }
      const data = checked.data;
      const id = data.taskId;
      const applyNow = () => {
        if (ENDS.has(kind)) {
          if (endedHere.has(id)) return;
          endedHere.add(id);
          if (endedHere.size > ENDS_KEPT) endedHere.delete(endedHere.values().next().value ?? '');
        }
        metrics.busMessages.inc({ kind });
        const task = tasks.touch(id, handle, data.traceId);
        const type = (apply[kind] as (task: Task, data: unknown) => string)(task, data);
        tell({ type, data, task }, { ...data, handle });
      };
      if (tasks.cached(id) && !loading.has(id)) {
        applyNow();
        return;
      }
      // A task this gateway does not hold (another gateway's, or from before a restart): read it once, and
      // apply its messages in the order they came, after it.
      const loaded =
        loading.get(id) ??
        tasks.load(id).then(
          () => {},
          // Applied all the same: to the task as this gateway knows it (created by this message if need be).
          (err: unknown) =>
            log.error({ event: 'gateway.task_load_failed', taskId: id, err: String(err) }, 'task not read'),
        );
      const next = loaded
        .then(applyNow)
        .catch((err: unknown) =>
          log.error({ event: 'gateway.kernel_message_failed', taskId: id, err: String(err) }, 'not applied'),
        );
      loading.set(id, next);
      next.finally(() => loading.get(id) === next && loading.delete(id));
    },

    /** A kernel that died cannot answer: its running tasks fail now rather than at their timeout. */
    kernelGone(handle: string, why: string) {
      for (const task of tasks.running(handle)) {
        task.status = 'failed';
        task.error = { code: 'kernel_died', message: `the container of ${task.handle} stopped (${why})` };
        tell(
          { type: 'task.failed', data: { error: task.error }, task },
          { taskId: task.id, traceId: task.traceId, handle: task.handle, error: task.error },
        );
      }
    },

    /** The command never reached the kernel's side. The caller reads this: words, never an address. */
    failed(task: Task, err: unknown) {
      task.status = 'failed';
      task.error = {
        code: err instanceof AppError ? err.code : 'dispatch_failed',
        message: err instanceof AppError ? withoutAddresses(err.message) : 'the dispatch failed',
      };
      log.warn(
        {
          event: 'router.dispatch_failed',
          traceId: task.traceId,
          taskId: task.id,
          handle: task.handle,
          err: String(err),
          cause: String((err as Error).cause ?? ''),
        },
        'dispatch failed',
      );
    },

    timedOut(task: Task, timeoutMs: number) {
      task.status = 'timeout';
      task.error = { code: 'timeout', message: `no answer from ${task.handle} within ${timeoutMs / 1000} s` };
    },

    /** The dispatch is over: stored, counted, on SSE, logged, and one line in the interaction log. */
    ended(
      task: Task,
      status: DispatchStatus,
      {
        started,
        prompt,
        sessionId,
        span,
      }: { started: number; prompt: string; sessionId?: string | undefined; span: Span },
    ) {
      metrics.dispatchQueueDepth.dec();
      task.updatedAt = new Date().toISOString();
      tasks.save(task);
      const durationMs = Math.round(performance.now() - started);
      const source = task.source ?? 'api';
      const result = task.result;
      const costUsd = result?.usage.costUsd ?? 0;
      metrics.dispatchTotal.inc({ source, status });
      metrics.dispatchDuration.observe({ source }, durationMs / 1000);
      if (result) {
        metrics.aiCost.inc({ model: result.model }, result.usage.costUsd);
        metrics.aiTokens.inc({ model: result.model, direction: 'input' }, result.usage.inputTokens);
        metrics.aiTokens.inc({ model: result.model, direction: 'output' }, result.usage.outputTokens);
      }
      const { id: taskId, traceId, handle } = task;
      sse.broadcast('dispatch.completed', { taskId, traceId, handle, source, status, durationMs, costUsd });
      log.info(
        {
          event: 'router.task_completed',
          ...traceFields(span),
          taskId,
          handle,
          status,
          durationMs,
          costUsd,
        },
        'dispatch ended',
      );
      interactions.write({
        timestamp: new Date().toISOString(),
        traceId,
        source,
        handle,
        sessionId: sessionId ?? null,
        prompt,
        toolsUsed: result?.toolsUsed ?? [],
        tokens: { input: result?.usage.inputTokens ?? 0, output: result?.usage.outputTokens ?? 0 },
        costUsd,
        model: result?.model ?? null,
        durationMs,
        status,
      });
    },

    watch: (id: string, fn: (u: TaskUpdate) => void) => tasks.watch(id, fn),
  };
}

export type TaskLedger = ReturnType<typeof createTaskLedger>;
