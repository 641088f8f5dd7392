import { bigint, boolean, jsonb, pgTable, text as pgText } from 'drizzle-orm/pg-core';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

// The fleet's audit trail: every platform's mutations in one place (GET /api/audit on any of them).
export { auditLog, auditLogPg } from '@beacon/core/audit-schema';

/**
 * The fleet every platform shares (BEACON_DATABASE_URL): one row per platform (a Docker host) and one per
 * container, each written by the platform whose engine runs it. A platform's own state about its engine
 * (events, samples, pools) stays in its SQLite file: facts about one engine.
 */
export const fleetHosts = sqliteTable('fleet_hosts', {
  host: text('host').primaryKey(),
  /** Where the other platforms reach it (BEACON_ADVERTISE_URL). */
  url: text('url').notNull(),
  engineUp: integer('engine_up', { mode: 'boolean' }).notNull(),
  /** Its last heartbeat, ms since epoch. */
  seenAt: integer('seen_at').notNull(),
});

export const fleetHostsPg = pgTable('fleet_hosts', {
  host: pgText('host').primaryKey(),
  url: pgText('url').notNull(),
  engineUp: boolean('engine_up').notNull(),
  seenAt: bigint('seen_at', { mode: 'number' }).notNull(),
});

export const fleetContainers = sqliteTable('fleet_containers', {
  handle: text('handle').primaryKey(),
  host: text('host').notNull(),
  /** Reserved by it (placement takes the host with the least). */
  memoryMb: integer('memory_mb').notNull(),
  /** The container as its platform shows it (GET /api/containers), JSON. */
  view: text('view', { mode: 'json' }).notNull(),
  updatedAt: integer('updated_at').notNull(),
});

export const fleetContainersPg = pgTable('fleet_containers', {
  handle: pgText('handle').primaryKey(),
  host: pgText('host').notNull(),
  memoryMb: bigint('memory_mb', { mode: 'number' }).notNull(),
  view: jsonb('view').notNull(),
  updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
});
