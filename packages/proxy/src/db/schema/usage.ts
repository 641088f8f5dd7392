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
    /** ok | upstream_error | timeout | client_closed */
    status: text('status').notNull(),
    httpStatus: integer('http_status').notNull(),
    durationMs: integer('duration_ms').notNull(),
    traceId: text('trace_id').notNull(),
  },
  (t) => [index('usage_user_at').on(t.user, t.at), index('usage_at').on(t.at)],
);

export type UsageRow = typeof usage.$inferSelect;
