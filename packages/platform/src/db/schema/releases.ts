import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * Handles whose container is gone but whose proxy key or secret files may still exist: retried until
 * both are removed, so nothing a container held outlives it (a proxy that is down only delays it).
 */
export const releases = sqliteTable('releases', {
  handle: text('handle').primaryKey(),
  since: integer('since', { mode: 'timestamp_ms' }).notNull(),
  attempts: integer('attempts').notNull().default(0),
  lastError: text('last_error'),
});
