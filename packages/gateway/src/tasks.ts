import type { KernelResult } from '@beacon/core';

export type TaskStatus = 'running' | 'completed' | 'failed' | 'cancelled' | 'timeout';

export interface Task {
  id: string;
  handle: string;
  status: TaskStatus;
  traceId: string;
  source?: string;
  createdAt: string;
  updatedAt: string;
  /** The text streamed so far (progress deltas), capped. */
  output: string;
  lastMessage?: string;
  question?: string;
  result?: Omit<KernelResult, 'taskId' | 'traceId'>;
  error?: { code: string; message: string };
}

const MAX_OUTPUT = 64 * 1024;

/** What happened to a task, as its watchers (the dispatcher, a web shell) hear it. */
export type TaskUpdate = { type: string; data: Record<string, unknown>; task: Task };

/** Recent tasks in memory, oldest evicted past `capacity`; the JSONL log and the proxy keep history. */
export class TaskStore {
  readonly #tasks = new Map<string, Task>();
  readonly #watchers = new Map<string, Set<(u: TaskUpdate) => void>>();
  constructor(readonly capacity = 10_000) {}

  get(id: string): Task | undefined {
    return this.#tasks.get(id);
  }

  list(handle?: string, limit = 100): Task[] {
    const all = [...this.#tasks.values()].filter((t) => !handle || t.handle === handle);
    return (Number.isFinite(limit) ? all.slice(-limit) : all).reverse();
  }

  /** The task, created on its first message when this gateway did not dispatch it. */
  touch(id: string, handle: string, traceId: string): Task {
    let task = this.#tasks.get(id);
    const now = new Date().toISOString();
    if (!task) {
      task = { id, handle, traceId, status: 'running', createdAt: now, updatedAt: now, output: '' };
      this.#tasks.set(id, task);
      if (this.#tasks.size > this.capacity) {
        const oldest = this.#tasks.keys().next().value;
        if (oldest !== undefined) this.#tasks.delete(oldest);
      }
    }
    task.updatedAt = now;
    return task;
  }

  /** Hear every update of one task until the returned function is called. */
  watch(id: string, fn: (u: TaskUpdate) => void): () => void {
    const set = this.#watchers.get(id) ?? new Set();
    set.add(fn);
    this.#watchers.set(id, set);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.#watchers.delete(id);
    };
  }

  notify(update: TaskUpdate): void {
    for (const fn of this.#watchers.get(update.task.id) ?? []) fn(update);
  }

  appendOutput(task: Task, delta: string): void {
    if (task.output.length < MAX_OUTPUT) task.output = (task.output + delta).slice(0, MAX_OUTPUT);
  }
}
