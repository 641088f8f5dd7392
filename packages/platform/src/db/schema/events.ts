import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * The last container events, by their SSE id: ids continue across a restart and a client's Last-Event-ID
 * replays what it missed while the platform was away (GET /api/events).
 */
export const events = sqliteTable('events', {
  id: integer('id').primaryKey(),
  type: text('type').notNull(),
  data: text('data', { mode: 'json' }).notNull(),
});
