import { pgTable, text as pgText, timestamp } from 'drizzle-orm/pg-core';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * Who made each response (and conversation) the upstream stores: one upstream key serves every Beacon user,
 * so an id is answered only to its user, and asked of the upstream that made it.
 */
export const storedResponses = sqliteTable('stored_responses', {
  id: text('id').primaryKey(),
  user: text('user').notNull(),
  /** The routing table's name of the upstream that holds it. */
  upstream: text('upstream').notNull(),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
});

export const storedResponsesPg = pgTable('stored_responses', {
  id: pgText('id').primaryKey(),
  user: pgText('user').notNull(),
  upstream: pgText('upstream').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
});
