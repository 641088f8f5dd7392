import { excluded, type Logger, preparedRows } from '@beacon/core';
import { and, count, eq, getTableColumns, gte, lt, type SQL, sql, sum } from 'drizzle-orm';
import type { ProxyStore } from './db';
import type { usage } from './db/schema/usage';
import { microUsd } from './domain/budget';

export type UsageInsert = Omit<typeof usage.$inferInsert, 'id'>;

type Write = UsageInsert & { id?: number };

/** How long a usage row may wait to be written: one statement per window instead of one per call. */
const FLUSH_AFTER_MS = 5;
/** Rows kept while the database refuses writes; beyond this the oldest are dropped (and logged). */
const MAX_PENDING = 100_000;
/** Rows per statement: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters. */
const CHUNK = 500;

export const USAGE_DIMENSIONS = ['day', 'model', 'user', 'handle'] as const;
export type UsageDimension = (typeof USAGE_DIMENSIONS)[number];

export interface UsageQuery {
  user?: string | undefined;
  from?: Date | undefined;
  /** Exclusive. */
  to?: Date | undefined;
  groupBy: UsageDimension[];
}

/**
 * The usage table. Rows are written behind the response, a few milliseconds later, many per statement: a
 * commit per call cost ~25 µs of the event loop plus a WAL page each (checkpoints every ~0.7 s at 1,500
 * calls/s). Its reads write what is queued first, so no caller has to remember to; a failed write keeps its
 * rows and retries.
 */
export function createUsageStore(store: ProxyStore, log: Logger) {
  const { db, t } = store;
  const u = t.usage;
  /** What usage can be grouped by, and the SQL of each group key in this dialect. */
  const dimensions: Record<UsageDimension, SQL> = {
    day:
      store.dialect === 'postgres'
        ? sql<string>`to_char(${u.at} AT TIME ZONE 'UTC', 'YYYY-MM-DD')`
        : sql<string>`strftime('%Y-%m-%d', ${u.at} / 1000, 'unixepoch')`,
    model: sql<string>`${u.model}`,
    user: sql<string>`${u.user}`,
    handle: sql<string | null>`${u.handle}`,
  };
  // A settled row replaces its pending one (same id); a new row takes the next id.
  const settle = excluded(u, ['id']);
  let pending: Write[] = [];
  // A call's pending row, prepared once: building the statement would cost more than running it.
  const columns = Object.keys(getTableColumns(u)).filter((k) => k !== 'id');
  const insertPending = db
    .insert(u)
    .values(Object.fromEntries(columns.map((k) => [k, sql.placeholder(k)])) as never)
    .returning({ id: u.id })
    .prepare();
  // Calls' final rows over their pending ones, prepared too: under light load a flush holds a row or two,
  // and building the statement each time was the largest part of the proxy's own CPU per call (profiled at c1).
  const upsert = (rows: Write[]) =>
    db.insert(u).values(rows).onConflictDoUpdate({ target: u.id, set: settle });
  const settleFew = preparedRows(['id', ...columns], (rows) => upsert(rows as never).prepare());
  let timer: Timer | undefined;
  let writing: Promise<void> = Promise.resolve();
  let lastError: string | undefined;

  async function write(rows: Write[]) {
    const few = rows.every((row) => row.id !== undefined) ? settleFew(rows) : undefined;
    if (few) return void (await few);
    for (let i = 0; i < rows.length; i += CHUNK) await upsert(rows.slice(i, i + CHUNK));
  }

  /** Write what is queued now (reads do it themselves; shutdown calls it last). One write at a time. */
  function flush(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    writing = writing.then(async () => {
      if (!pending.length) return;
      const rows = pending;
      pending = [];
      try {
        await write(rows);
        lastError = undefined;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
        pending = rows.concat(pending);
        const dropped = pending.length - MAX_PENDING;
        if (dropped > 0) pending = pending.slice(dropped);
        log.error(
          { event: 'proxy.usage_write_failed', pending: pending.length, dropped: Math.max(0, dropped), err },
          'usage rows could not be written; retrying',
        );
        timer ??= setTimeout(flush, 1000);
      }
    });
    return writing;
  }

  const queue = (row: Write) => {
    // Every row names every column (the statements are prepared for all of them).
    pending.push({ reservedUsd: null, reasoningTokens: 0, ...row });
    timer ??= setTimeout(flush, FLUSH_AFTER_MS);
  };

  return {
    append: (row: UsageInsert) => queue(row),
    /**
     * Write a call's `pending` row before its upstream call, so a crash cannot lose it; resolves to its id
     * for settle() once committed. undefined when the database refuses: the final row is appended instead.
     */
    async begin(row: UsageInsert): Promise<number | undefined> {
      try {
        const [written] = await insertPending.execute({ reservedUsd: null, reasoningTokens: 0, ...row });
        return written?.id;
      } catch (err) {
        log.error({ event: 'proxy.usage_write_failed', err }, 'a pending usage row was not written');
        return undefined;
      }
    },
    /** The final row of a call begun with begin() (or appended, without an id). */
    settle: (id: number | undefined, row: UsageInsert) => queue(id === undefined ? row : { ...row, id }),
    /**
     * Calls left pending by a crash (their upstream may have answered and billed), begun before `before`:
     * closed as `interrupted` and charged what they reserved, so the budget counts them. Per user, what
     * was reserved.
     */
    async closeInterrupted(before: Date): Promise<Map<string, number>> {
      // A literal, not a parameter: SQLite uses the partial index usage_pending only then.
      const closed = await db
        .update(u)
        .set({ status: 'interrupted', costUsd: sql`coalesce(${u.reservedUsd}, 0)` })
        .where(and(sql`${u.status} = 'pending'`, lt(u.at, before)))
        .returning({ user: u.user, reservedUsd: u.reservedUsd });
      const byUser = new Map<string, number>();
      for (const r of closed) byUser.set(r.user, (byUser.get(r.user) ?? 0) + (r.reservedUsd ?? 0));
      return byUser;
    },
    flush,

    /** Whether any call of the user's is in flight on any replica (a pending row). */
    async inFlight(user: string): Promise<boolean> {
      const [row] = await db
        .select({ id: u.id })
        .from(u)
        .where(and(eq(u.user, user), sql`${u.status} = 'pending'`))
        .limit(1);
      return row !== undefined;
    },
    /**
     * A user's calls of one trace (a dispatch) per model, with how many are still in flight: what a kernel
     * reports for the agent CLI it ran, equal to what GET /api/usage counts.
     */
    async ofTrace(user: string, traceId: string) {
      await flush();
      const rows = await db
        .select({
          model: u.model,
          calls: count(),
          inFlight: sql<number>`sum(case when ${u.status} = 'pending' then 1 else 0 end)`,
          costUsd: sum(u.costUsd),
          inputTokens: sum(u.inputTokens),
          cacheReadTokens: sum(u.cacheReadTokens),
          cacheWriteTokens: sum(u.cacheWriteTokens),
          outputTokens: sum(u.outputTokens),
        })
        .from(u)
        .where(and(eq(u.traceId, traceId), eq(u.user, user)))
        .groupBy(u.model);
      return rows.map((r) => ({
        model: r.model,
        calls: Number(r.calls),
        inFlight: Number(r.inFlight ?? 0),
        costUsd: Number(r.costUsd ?? 0),
        inputTokens: Number(r.inputTokens ?? 0),
        cacheReadTokens: Number(r.cacheReadTokens ?? 0),
        cacheWriteTokens: Number(r.cacheWriteTokens ?? 0),
        outputTokens: Number(r.outputTokens ?? 0),
      }));
    },
    /** USD charged to a user since `from`. */
    async spentSince(user: string, from: Date): Promise<number> {
      await flush();
      const [row] = await db
        .select({ total: sum(u.costUsd) })
        .from(u)
        .where(and(eq(u.user, user), gte(u.at, from)));
      return Number(row?.total ?? 0);
    },

    /** Calls, cost and tokens per group of one or several dimensions (GET /api/usage). */
    async summarize(q: UsageQuery) {
      await flush();
      const usage = u;
      const where: SQL[] = [];
      if (q.user) where.push(eq(usage.user, q.user));
      if (q.from) where.push(gte(usage.at, q.from));
      if (q.to) where.push(lt(usage.at, q.to));
      const keys = Object.fromEntries(q.groupBy.map((d) => [d, dimensions[d]]));
      const rows = await db
        .select({
          ...keys,
          calls: count(),
          refused: sql<number>`sum(case when ${usage.status} = 'rejected' then 1 else 0 end)`,
          costUsd: sum(usage.costUsd),
          inputTokens: sum(usage.inputTokens),
          outputTokens: sum(usage.outputTokens),
          cacheReadTokens: sum(usage.cacheReadTokens),
          cacheWriteTokens: sum(usage.cacheWriteTokens),
          reasoningTokens: sum(usage.reasoningTokens),
        })
        .from(usage)
        .where(where.length ? and(...where) : undefined)
        .groupBy(...Object.values(keys))
        // One order on both dialects (PostgreSQL puts nulls last by default, SQLite first).
        .orderBy(...Object.values(keys).map((k) => sql`${k} ASC NULLS FIRST`));
      return rows.map((r) => ({
        ...Object.fromEntries(q.groupBy.map((d) => [d, r[d as keyof typeof r]])),
        // Served and refused apart: a budget's refusals are calls nobody was charged for.
        calls: Number(r.calls) - Number(r.refused ?? 0),
        refusedCalls: Number(r.refused ?? 0),
        costUsd: microUsd(Number(r.costUsd ?? 0)),
        inputTokens: Number(r.inputTokens ?? 0),
        outputTokens: Number(r.outputTokens ?? 0),
        cacheReadTokens: Number(r.cacheReadTokens ?? 0),
        cacheWriteTokens: Number(r.cacheWriteTokens ?? 0),
        reasoningTokens: Number(r.reasoningTokens ?? 0),
      }));
    },

    /** For /health: throws while rows are waiting on a failing database. */
    check: async () => {
      if (lastError) throw new Error(`${pending.length} usage rows not yet written: ${lastError}`);
    },
  };
}

export type UsageStore = ReturnType<typeof createUsageStore>;
