import { bigint, doublePrecision, integer as pgInteger, pgTable, text as pgText } from 'drizzle-orm/pg-core';
import { integer, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * What each user with a quota has spent and holds reserved, shared by every proxy replica on the database:
 * a reservation is one conditional UPDATE of the user's row, so replicas cannot both take the last of a
 * budget. Windows are the UTC day, month and minute that start at the `*_start` times (ms since epoch).
 */
export const spend = sqliteTable('spend', {
  user: text('user').primaryKey(),
  dayStart: integer('day_start').notNull(),
  dayUsd: real('day_usd').notNull(),
  monthStart: integer('month_start').notNull(),
  monthUsd: real('month_usd').notNull(),
  /** Worst-case costs of the calls in flight on every replica. */
  reservedUsd: real('reserved_usd').notNull(),
  minuteStart: integer('minute_start').notNull(),
  minuteCalls: integer('minute_calls').notNull(),
  /** Calls in the minute before `minute_start`: the sliding-window estimate weighs them by overlap. */
  prevMinuteCalls: integer('prev_minute_calls').notNull(),
});

export const spendPg = pgTable('spend', {
  user: pgText('user').primaryKey(),
  dayStart: bigint('day_start', { mode: 'number' }).notNull(),
  dayUsd: doublePrecision('day_usd').notNull(),
  monthStart: bigint('month_start', { mode: 'number' }).notNull(),
  monthUsd: doublePrecision('month_usd').notNull(),
  reservedUsd: doublePrecision('reserved_usd').notNull(),
  minuteStart: bigint('minute_start', { mode: 'number' }).notNull(),
  minuteCalls: pgInteger('minute_calls').notNull(),
  prevMinuteCalls: pgInteger('prev_minute_calls').notNull(),
});

export type SpendRow = typeof spend.$inferSelect;
