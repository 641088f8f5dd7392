import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** How a container last ended on its own (from the engine's State), as the API and events report it. */
export interface LastExit {
  code: number;
  oomKilled: boolean;
  at: string;
  reason: string;
}

export type RecordState = 'creating' | 'running' | 'stopped' | 'recycling' | 'gone';

/** What the platform was asked to run; the Docker engine is the truth for what runs now. */
export const containers = sqliteTable('containers', {
  handle: text('handle').primaryKey(),
  owner: text('owner').notNull(),
  image: text('image').notNull(),
  /** ContainerSpec as JSON: command, env, limits, ttl, health. */
  spec: text('spec', { mode: 'json' }).notNull(),
  /** What the engine last showed: creating | running | stopped | recycling | gone. */
  state: text('state').notNull(),
  /** What the operator asked for: running, or stopped through the API (then nothing restarts it). */
  desired: text('desired').notNull().default('running'),
  /** Restarts after the container exited on its own. */
  restarts: integer('restarts').notNull().default(0),
  /** The backoff step its restarts reached (0-based; none yet: -1): a platform restart goes on from it. */
  restartAttempt: integer('restart_attempt').notNull().default(-1),
  lastExit: text('last_exit', { mode: 'json' }).$type<LastExit>(),
  containerId: text('container_id'),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  expiresAt: integer('expires_at', { mode: 'timestamp_ms' }),
});

export type ContainerRow = typeof containers.$inferSelect;
