import {
  doublePrecision,
  integer as pgInteger,
  pgTable,
  text as pgText,
  timestamp,
} from 'drizzle-orm/pg-core';
import { integer, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export const quotas = sqliteTable('quotas', {
  user: text('user').primaryKey(),
  dailyUsd: real('daily_usd'),
  monthlyUsd: real('monthly_usd'),
  requestsPerMinute: integer('requests_per_minute'),
  /** Output tokens reserved for a call that sends no max_tokens (else BEACON_DEFAULT_MAX_TOKENS). */
  defaultMaxTokens: integer('default_max_tokens'),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
});

export const quotasPg = pgTable('quotas', {
  user: pgText('user').primaryKey(),
  dailyUsd: doublePrecision('daily_usd'),
  monthlyUsd: doublePrecision('monthly_usd'),
  requestsPerMinute: pgInteger('requests_per_minute'),
  defaultMaxTokens: pgInteger('default_max_tokens'),
  updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull(),
});

export type QuotaRow = typeof quotas.$inferSelect;
