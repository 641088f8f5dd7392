import { bigserial, integer as pgInteger, pgTable, text as pgText, timestamp } from 'drizzle-orm/pg-core';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * Who changed what: every mutation through an admin (or user) token, with the
 * token that was used named by role and fingerprint, never by value. Each service keeps it in its own
 * database (the table is part of each service's drizzle schema, in both dialects).
 */
export const auditLog = sqliteTable('audit_log', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  at: integer('at', { mode: 'timestamp_ms' }).notNull(),
  actor: text('actor').notNull(),
  action: text('action').notNull(),
  target: text('target').notNull(),
  /** ok (2xx/3xx), refused (4xx) or failed (5xx). */
  outcome: text('outcome').notNull(),
  status: integer('status').notNull(),
  requestId: text('request_id').notNull(),
});

export const auditLogPg = pgTable('audit_log', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  at: timestamp('at', { withTimezone: true, precision: 3 }).notNull(),
  actor: pgText('actor').notNull(),
  action: pgText('action').notNull(),
  target: pgText('target').notNull(),
  outcome: pgText('outcome').notNull(),
  status: pgInteger('status').notNull(),
  requestId: pgText('request_id').notNull(),
});

export type AuditEntry = typeof auditLog.$inferSelect;
