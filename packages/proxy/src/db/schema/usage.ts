import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  doublePrecision,
  index as pgIndex,
  integer as pgInteger,
  pgTable,
  text as pgText,
  timestamp,
} from 'drizzle-orm/pg-core';
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
    /** The part of output_tokens a reasoning model spent thinking. */
    reasoningTokens: integer('reasoning_tokens').notNull().default(0),
    costUsd: real('cost_usd').notNull(),
    /** pending (in flight) | ok | incomplete | failed | upstream_error | timeout | client_closed | rejected | interrupted */
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
    // A dispatch's calls, which its kernel asks for when an agent CLI it ran has finished (GET /v1/usage).
    index('usage_trace').on(t.traceId),
    // Only the rows of calls in flight, so the start's look for crash leftovers reads no more; not free:
    // a pending row adds an entry and its settle takes it out (~10–20 µs of a pending insert, 2-core VM).
    index('usage_pending').on(t.status).where(sql`${t.status} = 'pending'`),
  ],
);

export const usagePg = pgTable(
  'usage',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true, precision: 3 }).notNull(),
    user: pgText('user').notNull(),
    handle: pgText('handle'),
    keyId: pgText('key_id'),
    provider: pgText('provider').notNull(),
    model: pgText('model').notNull(),
    stream: boolean('stream').notNull(),
    inputTokens: pgInteger('input_tokens').notNull(),
    outputTokens: pgInteger('output_tokens').notNull(),
    cacheReadTokens: pgInteger('cache_read_tokens').notNull(),
    cacheWriteTokens: pgInteger('cache_write_tokens').notNull(),
    reasoningTokens: pgInteger('reasoning_tokens').notNull().default(0),
    costUsd: doublePrecision('cost_usd').notNull(),
    status: pgText('status').notNull(),
    httpStatus: pgInteger('http_status').notNull(),
    durationMs: pgInteger('duration_ms').notNull(),
    traceId: pgText('trace_id').notNull(),
    reservedUsd: doublePrecision('reserved_usd'),
  },
  (t) => [
    pgIndex('usage_user_at').on(t.user, t.at),
    pgIndex('usage_at').on(t.at),
    pgIndex('usage_trace').on(t.traceId),
    pgIndex('usage_pending').on(t.status).where(sql`${t.status} = 'pending'`),
  ],
);
