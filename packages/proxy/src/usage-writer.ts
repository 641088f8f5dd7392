import type { Logger } from '@beacon/core';
import { getTableColumns, sql } from 'drizzle-orm';
import type { ProxyDb } from './db';
import { usage } from './db/schema/usage';

export type UsageInsert = Omit<typeof usage.$inferInsert, 'id'>;

/** How long a usage row may wait to be written: one transaction per window instead of one per call. */
const FLUSH_AFTER_MS = 5;
/** Rows kept while the database refuses writes; beyond this the oldest are dropped (and logged). */
const MAX_PENDING = 100_000;

/**
 * Usage rows written behind the response, a few milliseconds later, many per transaction: a commit per
 * call cost ~25 µs of the event loop plus a WAL page each (checkpoints every ~0.7 s at 1,500 calls/s).
 * Readers of the usage table call flush() first. A failed write keeps its rows and retries.
 */
export function createUsageWriter(db: ProxyDb, log: Logger) {
  const { id: _id, ...columns } = getTableColumns(usage);
  const placeholders = Object.fromEntries(Object.keys(columns).map((k) => [k, sql.placeholder(k)]));
  const insert = db
    .insert(usage)
    .values(placeholders as never)
    .prepare();
  let pending: UsageInsert[] = [];
  let timer: Timer | undefined;
  let lastError: string | undefined;

  function flush() {
    clearTimeout(timer);
    timer = undefined;
    if (!pending.length) return;
    const rows = pending;
    pending = [];
    try {
      db.transaction(() => {
        for (const row of rows) insert.run(row);
      });
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
      timer = setTimeout(flush, 1000);
    }
  }

  return {
    append(row: UsageInsert) {
      pending.push(row);
      timer ??= setTimeout(flush, FLUSH_AFTER_MS);
    },
    flush,
    /** For /health: throws while rows are waiting on a failing database. */
    check: async () => {
      if (lastError) throw new Error(`${pending.length} usage rows not yet written: ${lastError}`);
    },
  };
}

export type UsageWriter = ReturnType<typeof createUsageWriter>;
