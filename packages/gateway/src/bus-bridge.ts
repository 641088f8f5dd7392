import {
  type BusKind,
  type BusMessage,
  busKinds,
  busSchemas,
  containerEventSchema,
  type EventBus,
  type Logger,
  parseSubject,
  type SseBroadcaster,
  streams,
  subjects,
} from '@beacon/core';
import type { z } from 'zod';
import type { GatewayMetrics } from './metrics';
import type { Task, TaskStore } from './tasks';

export interface BridgeDeps {
  bus: EventBus;
  tasks: TaskStore;
  sse: SseBroadcaster;
  metrics: GatewayMetrics;
  log: Logger;
  durable?: string;
  /** Told of every container event, e.g. to forget a cached address. */
  onContainerEvent?: (handle: string) => void;
}

const KERNEL_GONE = new Set(['container.died', 'container.destroyed', 'container.oom']);

/** A task's end, and the status it gives the task: the second copy of it (core NATS and JetStream) is dropped. */
const SETTLES: Partial<Record<BusKind, string>> = {
  results: 'completed',
  errors: 'failed',
  cancelled: 'cancelled',
};

/**
 * Kernel messages (beacon.<handle>.<kind>) and container events (beacon.platform.events) from the bus:
 * validated, counted, applied to the task store and broadcast on SSE. Invalid ones are counted and dropped.
 */
export function startBusBridge({
  bus,
  tasks,
  sse,
  metrics,
  log,
  durable = 'gateway',
  onContainerEvent,
}: BridgeDeps) {
  const invalid = (kind: string, subject: string, problem: string) => {
    metrics.busInvalid.inc({ kind });
    log.warn({ event: 'bus.invalid_message', subject, problem }, 'dropped an invalid bus message');
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

  const onKernel = (message: BusMessage, { quiet = false } = {}) => {
    const parsed = parseSubject(message.subject);
    if (!parsed || parsed.handle === 'platform' || !(parsed.kind in busSchemas)) return;
    const kind = parsed.kind as BusKind;
    const result = busSchemas[kind].safeParse(message.data);
    if (!result.success) return quiet ? undefined : invalid(kind, message.subject, result.error.message);
    // A task's end may come twice (JetStream redelivers after a restart; HTTP and a relay): once counts.
    const settles = SETTLES[kind];
    if (settles && tasks.get(result.data.taskId)?.status === settles) return;
    metrics.busMessages.inc({ kind });
    const task = tasks.touch(result.data.taskId, parsed.handle, result.data.traceId);
    const type = (apply[kind] as (task: Task, data: unknown) => string)(task, result.data);
    sse.broadcast(type, { ...result.data, handle: parsed.handle });
    tasks.notify({ type, data: result.data, task });
  };

  const onContainer = (message: BusMessage) => {
    const result = containerEventSchema.safeParse(message.data);
    if (!result.success) return invalid('container', message.subject, result.error.message);
    metrics.busMessages.inc({ kind: 'container' });
    onContainerEvent?.(result.data.handle);
    sse.broadcast(result.data.type, result.data);
    // A kernel that died cannot answer: its running tasks fail now rather than at their timeout.
    if (KERNEL_GONE.has(result.data.type)) {
      for (const task of tasks.running(result.data.handle)) {
        task.status = 'failed';
        task.error = {
          code: 'kernel_died',
          message: `the container of ${task.handle} stopped (${result.data.type})`,
        };
        sse.broadcast('task.failed', {
          taskId: task.id,
          traceId: task.traceId,
          handle: task.handle,
          error: task.error,
        });
        tasks.notify({ type: 'task.failed', data: { error: task.error }, task });
      }
    }
  };

  const stops = [
    // Everything on core NATS at once; a task's end also from JetStream below, for what core NATS missed.
    ...busKinds.map((kind) => bus.subscribe(`beacon.*.${kind}`, onKernel)),
    bus.subscribe(subjects.platformEvents, onContainer),
  ];
  // Ends of tasks survive a gateway restart or a NATS outage: JetStream keeps them for this consumer.
  // The copy of what core NATS already brought is dropped without a word (it was counted once).
  bus.subscribeDurable({ stream: streams.results, durable }, (m) => onKernel(m, { quiet: true }));
  return {
    /** Apply a kernel message that arrived by HTTP instead of the bus (same subject shape). */
    onKernel,
    /** Apply a container event that arrived by another way (the platform's SSE relay). */
    onContainer,
    stop: () => {
      for (const stop of stops) stop();
    },
  };
}
