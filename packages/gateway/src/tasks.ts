import type { KernelResult } from '@beacon/core';
import { desc, eq, lt } from 'drizzle-orm';
import type { GatewayDb } from './db';
import { tasks } from './db/schema/tasks';

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

/** How long a task's change may wait to be written: one transaction per window, off the dispatch path. */
const WRITE_AFTER_MS = 5;

/**
 * Tasks: the recent ones in memory (with their watchers), every one in the database when there is one —
 * written behind each change but progress (within 5 ms, many per transaction), so a finished task answers
 * after a restart. Rows older than the retention are pruned.
 */
export class TaskStore {
  readonly #tasks = new Map<string, Task>();
  readonly #watchers = new Map<string, Set<(u: TaskUpdate) => void>>();
  readonly #db: GatewayDb | undefined;
  readonly #dirty = new Map<string, Task>();
  #timer: Timer | undefined;

  constructor(
    readonly capacity = 10_000,
    db?: GatewayDb,
  ) {
    this.#db = db;
  }

  /** Write every change waiting (also at shutdown, and before reading the table). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const db = this.#db;
    if (!db || this.#dirty.size === 0) return;
    const batch = [...this.#dirty.values()];
    this.#dirty.clear();
    db.transaction((tx) => {
      for (const task of batch) {
        const row = {
          id: task.id,
          handle: task.handle,
          status: task.status,
          traceId: task.traceId,
          source: task.source ?? null,
          createdAt: task.createdAt,
          updatedAt: task.updatedAt,
          body: task,
        };
        tx.insert(tasks).values(row).onConflictDoUpdate({ target: tasks.id, set: row }).run();
      }
    });
  }

  get(id: string): Task | undefined {
    const task = this.#tasks.get(id);
    if (task || !this.#db) return task;
    this.flush();
    return this.#db.select().from(tasks).where(eq(tasks.id, id)).get()?.body as Task | undefined;
  }

  list(handle?: string, limit = 100): Task[] {
    this.flush();
    if (!this.#db) {
      const all = [...this.#tasks.values()].filter((t) => !handle || t.handle === handle);
      return all.slice(-limit).reverse();
    }
    return this.#db
      .select()
      .from(tasks)
      .where(handle ? eq(tasks.handle, handle) : undefined)
      .orderBy(desc(tasks.createdAt))
      .limit(limit)
      .all()
      .map((r) => this.#tasks.get(r.id) ?? (r.body as Task));
  }

  /** Tasks of a handle still running in this gateway (a dead kernel fails them). */
  running(handle: string): Task[] {
    return [...this.#tasks.values()].filter((t) => t.handle === handle && t.status === 'running');
  }

  /** A task this gateway dispatches (a new id). */
  create(id: string, handle: string, traceId: string): Task {
    const now = new Date().toISOString();
    const task: Task = { id, handle, traceId, status: 'running', createdAt: now, updatedAt: now, output: '' };
    this.#remember(task);
    // Written behind like every change: one that ends within the window is written once, as it ended.
    this.save(task);
    return task;
  }

  /** The task, created on its first message when this gateway did not dispatch it (or has restarted). */
  touch(id: string, handle: string, traceId: string): Task {
    const known = this.#tasks.get(id) ?? this.get(id);
    if (!known) return this.create(id, handle, traceId);
    if (!this.#tasks.has(id)) this.#remember(known);
    known.updatedAt = new Date().toISOString();
    return known;
  }

  /** Write the task as it is now, within WRITE_AFTER_MS (no-op without a database). */
  save(task: Task): void {
    if (!this.#db) return;
    this.#dirty.set(task.id, task);
    this.#timer ??= setTimeout(() => this.flush(), WRITE_AFTER_MS);
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

  /** Tell the task's watchers; every change but progress is written. */
  notify(update: TaskUpdate): void {
    if (update.type !== 'task.progress') this.save(update.task);
    for (const fn of this.#watchers.get(update.task.id) ?? []) fn(update);
  }

  appendOutput(task: Task, delta: string): void {
    if (task.output.length < MAX_OUTPUT) task.output = (task.output + delta).slice(0, MAX_OUTPUT);
  }

  /**
   * At start: tasks a previous run left running. Over HTTP their kernel streams are gone, so they end as
   * failed; over NATS their result may still come (JetStream keeps it), so they are left to it.
   */
  closeInterrupted(transport: 'nats' | 'http'): number {
    if (!this.#db || transport === 'nats') return 0;
    const left = this.#db.select().from(tasks).where(eq(tasks.status, 'running')).all();
    for (const row of left) {
      const task = row.body as Task;
      task.status = 'failed';
      task.error = { code: 'interrupted', message: 'the gateway restarted while this task ran' };
      task.updatedAt = new Date().toISOString();
      this.save(task);
    }
    this.flush();
    return left.length;
  }

  /** Drop rows last changed before `before` (the retention). */
  prune(before: Date): void {
    this.#db?.delete(tasks).where(lt(tasks.updatedAt, before.toISOString())).run();
  }

  #remember(task: Task) {
    this.#tasks.set(task.id, task);
    if (this.#tasks.size > this.capacity) {
      const oldest = this.#tasks.keys().next().value;
      if (oldest !== undefined) this.#tasks.delete(oldest);
    }
  }
}
