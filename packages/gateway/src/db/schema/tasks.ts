import { jsonb, index as pgIndex, pgTable, text as pgText } from 'drizzle-orm/pg-core';
import { index, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** One row per dispatched task, written when it starts and when it ends, so it outlives a restart. */
export const tasks = sqliteTable(
  'tasks',
  {
    id: text('id').primaryKey(),
    handle: text('handle').notNull(),
    status: text('status').notNull(),
    traceId: text('trace_id').notNull(),
    source: text('source'),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
    /** The task as the API shows it (output, result, error…), JSON. */
    body: text('body', { mode: 'json' }).notNull(),
  },
  (t) => [index('tasks_handle_created').on(t.handle, t.createdAt), index('tasks_created').on(t.createdAt)],
);

export const tasksPg = pgTable(
  'tasks',
  {
    id: pgText('id').primaryKey(),
    handle: pgText('handle').notNull(),
    status: pgText('status').notNull(),
    traceId: pgText('trace_id').notNull(),
    source: pgText('source'),
    createdAt: pgText('created_at').notNull(),
    updatedAt: pgText('updated_at').notNull(),
    body: jsonb('body').notNull(),
  },
  (t) => [
    pgIndex('tasks_handle_created').on(t.handle, t.createdAt),
    pgIndex('tasks_created').on(t.createdAt),
  ],
);
