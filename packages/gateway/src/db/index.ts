import { join } from 'node:path';
import { openSqlite } from '@beacon/core';
import { auditLog } from './schema/audit';
import { tasks } from './schema/tasks';

export const schema = { tasks, auditLog };

export const openDatabase = (path: string) =>
  openSqlite(path, join(import.meta.dir, '../../drizzle'), schema);

export type GatewayDb = ReturnType<typeof openDatabase>;
