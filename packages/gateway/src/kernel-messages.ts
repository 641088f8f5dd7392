import { type BusKind, busSchemas, type Logger, subjects } from '@beacon/core';
import type { z } from 'zod';
import type { GatewayMetrics } from './metrics';
import type { Task, TaskStore, TaskUpdate } from './tasks';

/** The kinds that end a task: the second copy of an end (core NATS and JetStream) is dropped. */
const ENDS = new Set<BusKind>(['results', 'errors', 'cancelled']);
/** Ends this gateway remembers having applied. */
const ENDS_KEPT = 10_000;

export interface KernelMessageDeps {
  tasks: TaskStore;
  metrics: GatewayMetrics;
  log: Logger;
  /** Tell SSE and the task's watchers of an applied message. */
  tell: (update: TaskUpdate, payload: Record<string, unknown>) => void;
}

/** What a kernel's messages do to their tasks: checked, applied once each end, in order per task. */
export function createKernelMessages({ tasks, metrics, log, tell }: KernelMessageDeps) {
  /** Tasks being read from the store, with their messages queued behind. */
  const loading = new Map<string, Promise<void>>();
  /**
   * Tasks whose end this gateway has applied (and told its SSE clients). Its own, not the stored status:
   * on a shared database another gateway may have stored the end first, and this one's clients must
   * still hear it, once.
   */
  const endedHere = new Set<string>();
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

  /**
   * A message of the task's kernel, over the bus or HTTP alike: checked against its schema (an invalid one is
   * counted and dropped; `quiet` drops it without a word), and applied once — a task's end may come twice
   * (core NATS and JetStream; a redelivery after a restart).
   */
  function kernel(kind: BusKind, handle: string, raw: unknown, { quiet = false } = {}): void {
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
      // A message on one handle's subject for another handle's task: a tenant forging a neighbour's answer.
      const known = tasks.cached(id);
      if (known && known.handle !== handle) {
        // Counted once: the same message may come by both of the bus's paths (the second quiet).
        if (quiet) return;
        metrics.busForeign.inc({ kind });
        log.warn(
          {
            event: 'bus.foreign_message',
            subject: subjects.kernel(handle, kind),
            taskId: id,
            taskHandle: known.handle,
          },
          "dropped a kernel message for another handle's task",
        );
        return;
      }
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
  }

  return { kernel };
}
