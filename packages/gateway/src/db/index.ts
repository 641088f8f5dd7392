import { join } from 'node:path';
import { type Logger, openStore } from '@beacon/core';
import { auditLog, auditLogPg } from './schema/audit';
import { tasks, tasksPg } from './schema/tasks';

export const schema = { tasks, auditLog };

/** The gateway's store: PostgreSQL when `url` is one (shared by every gateway), else SQLite at `path`. */
export const openDatabase = (path: string, url?: string, log?: Logger) =>
  openStore({
    url,
    path,
    log,
    migrations: join(import.meta.dir, '../../drizzle'),
    sqlite: schema,
    pg: { tasks: tasksPg, auditLog: auditLogPg },
  });

export type GatewayStore = ReturnType<typeof openDatabase>;
