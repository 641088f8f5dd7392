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

/**
 * Tasks: the recent ones in memory (with their watchers), every one in the database when there is one —
 * written as it starts and each time it changes but for progress, so a finished task answers after a
 * restart. Rows older than the retention are pruned.
 */
export class TaskStore {
  readonly #tasks = new Map<string, Task>();
  readonly #watchers = new Map<string, Set<(u: TaskUpdate) => void>>();
  readonly #db: GatewayDb | undefined;

  constructor(
    readonly capacity = 10_000,
    db?: GatewayDb,
  ) {
    this.#db = db;
  }

  get(id: string): Task | undefined {
    const task = this.#tasks.get(id);
    if (task || !this.#db) return task;
    return this.#db.select().from(tasks).where(eq(tasks.id, id)).get()?.body as Task | undefined;
  }

  list(handle?: string, limit = 100): Task[] {
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

  /** The task, created on its first message when this gateway did not dispatch it (or has restarted). */
  touch(id: string, handle: string, traceId: string): Task {
    let task = this.#tasks.get(id) ?? this.get(id);
    const now = new Date().toISOString();
    if (!task) {
      task = { id, handle, traceId, status: 'running', createdAt: now, updatedAt: now, output: '' };
      this.#remember(task);
      this.save(task);
    } else if (!this.#tasks.has(id)) this.#remember(task);
    task.updatedAt = now;
    return task;
  }

  /** Write the task as it is now (no-op without a database). */
  save(task: Task): void {
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
    this.#db?.insert(tasks).values(row).onConflictDoUpdate({ target: tasks.id, set: row }).run();
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
