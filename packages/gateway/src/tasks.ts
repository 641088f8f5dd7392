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

/** Recent tasks in memory, oldest evicted past `capacity`; the JSONL log and the proxy keep history. */
export class TaskStore {
  readonly #tasks = new Map<string, Task>();
  constructor(readonly capacity = 10_000) {}

  get(id: string): Task | undefined {
    return this.#tasks.get(id);
  }

  list(handle?: string, limit = 100): Task[] {
    const all = [...this.#tasks.values()].filter((t) => !handle || t.handle === handle);
    return all.slice(-limit).reverse();
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

  appendOutput(task: Task, delta: string): void {
    if (task.output.length < MAX_OUTPUT) task.output = (task.output + delta).slice(0, MAX_OUTPUT);
  }
}
