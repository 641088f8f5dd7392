import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** A pool's containers and who holds them; the container itself is a row of `containers`. */
export const poolMembers = sqliteTable('pool_members', {
  handle: text('handle').primaryKey(),
  pool: text('pool').notNull(),
  /** pending (being created or wiped) | available | borrowed */
  status: text('status').notNull(),
  /** The tenant holding it while borrowed. */
  tenant: text('tenant'),
  /** The tenant that held it last: affinity prefers handing it back to them. */
  lastTenant: text('last_tenant'),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
});

export type PoolMemberRow = typeof poolMembers.$inferSelect;
