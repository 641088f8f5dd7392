// Its own module: drizzle-kit loads schema files under Node, without bun:sqlite.
export { auditLog, auditLogPg } from '@beacon/core/audit-schema';
