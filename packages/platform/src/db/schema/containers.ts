import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** What the platform was asked to run; the Docker engine is the truth for what runs now. */
export const containers = sqliteTable('containers', {
  handle: text('handle').primaryKey(),
  owner: text('owner').notNull(),
  image: text('image').notNull(),
  /** ContainerSpec as JSON: command, env, limits, ttl, health. */
  spec: text('spec', { mode: 'json' }).notNull(),
  state: text('state').notNull(),
  containerId: text('container_id'),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  expiresAt: integer('expires_at', { mode: 'timestamp_ms' }),
});

export type ContainerRow = typeof containers.$inferSelect;
