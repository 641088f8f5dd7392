import { sql } from 'drizzle-orm';
import { index, integer, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** One row per proxied call, whatever its outcome. */
export const usage = sqliteTable(
  'usage',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at', { mode: 'timestamp_ms' }).notNull(),
    user: text('user').notNull(),
    handle: text('handle'),
    keyId: text('key_id'),
    provider: text('provider').notNull(),
    model: text('model').notNull(),
    stream: integer('stream', { mode: 'boolean' }).notNull(),
    inputTokens: integer('input_tokens').notNull(),
    outputTokens: integer('output_tokens').notNull(),
    cacheReadTokens: integer('cache_read_tokens').notNull(),
    cacheWriteTokens: integer('cache_write_tokens').notNull(),
    costUsd: real('cost_usd').notNull(),
    /** pending (in flight) | ok | upstream_error | timeout | client_closed | rejected | interrupted */
    status: text('status').notNull(),
    httpStatus: integer('http_status').notNull(),
    durationMs: integer('duration_ms').notNull(),
    traceId: text('trace_id').notNull(),
    /** The worst-case cost reserved while in flight; what an interrupted call is charged. */
    reservedUsd: real('reserved_usd'),
  },
  (t) => [
    index('usage_user_at').on(t.user, t.at),
    index('usage_at').on(t.at),
    // Only the rows of calls in flight: the start's look for crash leftovers costs the hot path nothing.
    index('usage_pending').on(t.status).where(sql`${t.status} = 'pending'`),
  ],
);

export type UsageRow = typeof usage.$inferSelect;
