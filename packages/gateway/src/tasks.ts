import { excluded, type KernelResult, preparedRows } from '@beacon/core';
import { and, desc, eq, getTableColumns, lt } from 'drizzle-orm';
import type { GatewayStore } from './db';

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

/** How long a task's change may wait to be written: one statement per window, off the dispatch path. */
const WRITE_AFTER_MS = 5;

const rowOf = (task: Task) => ({
  id: task.id,
  handle: task.handle,
  status: task.status,
  traceId: task.traceId,
  source: task.source ?? null,
  createdAt: task.createdAt,
  updatedAt: task.updatedAt,
  body: task,
});

/** Tasks' rows written over what is stored (all but the id and when it was created). */
const upsert = ({ db, t }: GatewayStore, rows: ReturnType<typeof rowOf>[]) =>
  db
    .insert(t.tasks)
    .values(rows)
    .onConflictDoUpdate({ target: t.tasks.id, set: excluded(t.tasks, ['id', 'createdAt']) });

/**
 * Tasks: the recent ones in memory (with their watchers), every one in the database when there is one —
 * written behind each change but progress (within 5 ms, many per statement), so a finished task answers
 * after a restart, and on a shared database from every gateway. Rows older than the retention are pruned.
 */
export class TaskStore {
  readonly #tasks = new Map<string, Task>();
  readonly #watchers = new Map<string, Set<(u: TaskUpdate) => void>>();
  readonly #store: GatewayStore | undefined;
  readonly #dirty = new Map<string, Task>();
  #timer: Timer | undefined;
  #writing: Promise<void> = Promise.resolve();

  /** A few tasks' rows in one prepared statement (the common flush: a task or two). */
  readonly #upsertFew: ReturnType<typeof preparedRows> | undefined;

  constructor(
    readonly capacity = 10_000,
    store?: GatewayStore,
  ) {
    this.#store = store;
    if (store)
      this.#upsertFew = preparedRows(Object.keys(getTableColumns(store.t.tasks)), (rows) =>
        upsert(store, rows as never).prepare(),
      );
  }

  /** Write every change waiting (also at shutdown, and before reading the table); one write at a time. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // After the last write, whatever its outcome (a failed one keeps its rows in #dirty).
    this.#writing = this.#writing
      .catch(() => {})
      .then(async () => {
        const store = this.#store;
        if (!store || this.#dirty.size === 0) return;
        const batch = [...this.#dirty.values()];
        this.#dirty.clear();
        const rows = batch.map(rowOf);
        try {
          await (this.#upsertFew?.(rows) ?? upsert(store, rows));
        } catch (err) {
          // Kept to be written again with the next change, newer ones first.
          for (const task of batch) if (!this.#dirty.has(task.id)) this.#dirty.set(task.id, task);
          this.#timer ??= setTimeout(() => this.#flushBehind(), 1000);
          throw err;
        }
      });
    return this.#writing;
  }

  /** The task if it is in memory now (its changes then apply at once, in order). */
  cached(id: string): Task | undefined {
    return this.#tasks.get(id);
  }

  /** The stored task, kept in memory from now on (a task another gateway dispatched, or before a restart). */
  async load(id: string): Promise<Task | undefined> {
    const known = this.#tasks.get(id);
    if (known) return known;
    const task = await this.#read(id);
    // A change heard while it was read wins over the row.
    if (task && !this.#tasks.has(id)) this.#remember(task);
    return this.#tasks.get(id);
  }

  async get(id: string): Promise<Task | undefined> {
    const task = this.#tasks.get(id);
    if (task || !this.#store) return task;
    await this.flush();
    return this.#read(id);
  }

  async #read(id: string): Promise<Task | undefined> {
    if (!this.#store) return undefined;
    const { db, t } = this.#store;
    const [row] = await db.select().from(t.tasks).where(eq(t.tasks.id, id));
    return row?.body as Task | undefined;
  }

  async list(handle?: string, limit = 100): Promise<Task[]> {
    if (!this.#store) {
      const all = [...this.#tasks.values()].filter((t) => !handle || t.handle === handle);
      return all.slice(-limit).reverse();
    }
    await this.flush();
    const { db, t } = this.#store;
    const rows = await db
      .select()
      .from(t.tasks)
      .where(handle ? eq(t.tasks.handle, handle) : undefined)
      .orderBy(desc(t.tasks.createdAt))
      .limit(limit);
    return rows.map((r) => this.#tasks.get(r.id) ?? (r.body as Task));
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

  /** The task in memory (load() it first), created on its first message when no one stored it. */
  touch(id: string, handle: string, traceId: string): Task {
    const known = this.#tasks.get(id);
    if (!known) return this.create(id, handle, traceId);
    known.updatedAt = new Date().toISOString();
    return known;
  }

  /** Write the task as it is now, within WRITE_AFTER_MS (no-op without a database). */
  save(task: Task): void {
    if (!this.#store) return;
    this.#dirty.set(task.id, task);
    this.#timer ??= setTimeout(() => this.#flushBehind(), WRITE_AFTER_MS);
  }

  /** A write nobody awaits: its failure is kept for the next (the health probe sees the database). */
  #flushBehind() {
    this.flush().catch(() => {});
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
   * Tasks left running in the store, last changed before `before`, end as failed (`interrupted`, with `why`):
   * a gateway that stopped (or was killed) while they ran cannot end them, and on a shared database any
   * gateway may. Returns how many.
   */
  async closeStale(before: Date, why: string): Promise<number> {
    if (!this.#store) return 0;
    const { db, t } = this.#store;
    const left = await db
      .select()
      .from(t.tasks)
      .where(and(eq(t.tasks.status, 'running'), lt(t.tasks.updatedAt, before.toISOString())));
    for (const row of left) {
      const task = (this.#tasks.get(row.id) ?? row.body) as Task;
      if (task.status !== 'running') continue;
      task.status = 'failed';
      task.error = { code: 'interrupted', message: why };
      task.updatedAt = new Date().toISOString();
      this.save(task);
    }
    await this.flush();
    return left.length;
  }

  /** Drop rows last changed before `before` (the retention). */
  async prune(before: Date): Promise<void> {
    if (!this.#store) return;
    const { db, t } = this.#store;
    await db.delete(t.tasks).where(lt(t.tasks.updatedAt, before.toISOString()));
  }

  #remember(task: Task) {
    this.#tasks.set(task.id, task);
    if (this.#tasks.size > this.capacity) {
      const oldest = this.#tasks.keys().next().value;
      if (oldest !== undefined) this.#tasks.delete(oldest);
    }
  }
}
