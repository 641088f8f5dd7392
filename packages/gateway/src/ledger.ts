import {
  AppError,
  type Logger,
  type Span,
  type SseBroadcaster,
  traceFields,
  withoutAddresses,
} from '@beacon/core';
import type { InteractionLogger } from './interaction-logger';
import { createKernelMessages } from './kernel-messages';
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
  const tell = (update: TaskUpdate, payload: Record<string, unknown>) => {
    sse.broadcast(update.type, payload);
    tasks.notify(update);
  };

  const messages = createKernelMessages({ tasks, metrics, log, tell });

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

    kernel: messages.kernel,

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
        ...(status !== 'ok'
          ? { error: task.error ?? { code: status, message: `the dispatch ended: ${status}` } }
          : {}),
      });
    },

    watch: (id: string, fn: (u: TaskUpdate) => void) => tasks.watch(id, fn),
  };
}

export type TaskLedger = ReturnType<typeof createTaskLedger>;
