import { pgTable, text as pgText, timestamp } from 'drizzle-orm/pg-core';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Beacon user keys; only a SHA-256 of the key is kept. */
export const apiKeys = sqliteTable('api_keys', {
  id: text('id').primaryKey(),
  user: text('user').notNull(),
  handle: text('handle'),
  keyHash: text('key_hash').notNull().unique(),
  /** The first characters, so an operator can tell keys apart. */
  prefix: text('prefix').notNull(),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  revokedAt: integer('revoked_at', { mode: 'timestamp_ms' }),
});

export const apiKeysPg = pgTable('api_keys', {
  id: pgText('id').primaryKey(),
  user: pgText('user').notNull(),
  handle: pgText('handle'),
  keyHash: pgText('key_hash').notNull().unique(),
  prefix: pgText('prefix').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
  revokedAt: timestamp('revoked_at', { withTimezone: true, precision: 3 }),
});
