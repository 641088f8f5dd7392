import { integer, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export const quotas = sqliteTable('quotas', {
  user: text('user').primaryKey(),
  dailyUsd: real('daily_usd'),
  monthlyUsd: real('monthly_usd'),
  requestsPerMinute: integer('requests_per_minute'),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
});

export type QuotaRow = typeof quotas.$inferSelect;
