import {
  type Command,
  endSpan,
  type KernelError,
  type KernelProgress,
  type KernelResult,
  type Logger,
  resultAttributes,
  SpanKind,
  type Tracing,
  traceFields,
  traceparentOf,
} from '@beacon/core';
import { AgentError, type AgentRun } from './agent';

/** Where a task's messages go: the bus (beacon.<handle>.*) or the HTTP caller's SSE stream. */
export interface TaskSink {
  progress(p: KernelProgress): void;
  result(r: KernelResult): void;
  error(e: KernelError): void;
  cancelled(c: { taskId: string; traceId: string; reason?: string }): void;
}

/** Task ids run recently: a command delivered twice (core NATS and JetStream) runs once. */
const SEEN = 10_000;

/** Runs commands concurrently; each can be cancelled by its taskId. */
export function createRunner(agent: AgentRun, log: Logger, tracing: Pick<Tracing, 'start'>) {
  const inFlight = new Map<string, AbortController>();
  const seen = new Set<string>();
  return {
    get inFlight() {
      return inFlight.size;
    },
    /** `traceparent`: the dispatch's trace context (NATS header or HTTP header); the run is its child span. */
    async execute(command: Command, sink: TaskSink, traceparent?: string): Promise<void> {
      const { taskId, traceId } = command;
      if (seen.has(taskId)) return;
      seen.add(taskId);
      if (seen.size > SEEN) seen.delete(seen.values().next().value ?? '');
      const controller = new AbortController();
      inFlight.set(taskId, controller);
      const span = tracing.start('kernel.run', {
        traceparent,
        kind: SpanKind.CONSUMER,
        attributes: { 'beacon.task_id': taskId, 'beacon.source': command.source },
      });
      // The task's trace id is the gateway's; the span id is this run's.
      const tlog = log.child({ traceId, spanId: traceFields(span).spanId, taskId });
      tlog.info({ event: 'kernel.task_started', source: command.source }, 'task started');
      let failure: string | undefined;
      try {
        const result = await agent(
          command,
          (p) => sink.progress({ taskId, traceId, ...p }),
          controller.signal,
          traceparentOf(span),
        );
        span.setAttributes(resultAttributes(result));
        sink.result({ taskId, traceId, ...result });
      } catch (err) {
        failure = err instanceof Error ? err.message : String(err);
        if (err instanceof AgentError && err.code === 'cancelled') {
          tlog.info({ event: 'kernel.task_cancelled' }, 'task cancelled');
          sink.cancelled({ taskId, traceId, reason: String(controller.signal.reason ?? 'cancelled') });
        } else {
          const code = err instanceof AgentError ? err.code : 'internal';
          tlog.warn({ event: 'kernel.task_failed', code, err: String(err) }, 'task failed');
          sink.error({
            taskId,
            traceId,
            error: { code, message: err instanceof Error ? err.message : String(err) },
          });
        }
      } finally {
        inFlight.delete(taskId);
        endSpan(span, failure);
      }
    },
    cancel(taskId: string, reason = 'cancelled'): boolean {
      const controller = inFlight.get(taskId);
      controller?.abort(reason);
      return controller !== undefined;
    },
  };
}

export type Runner = ReturnType<typeof createRunner>;
