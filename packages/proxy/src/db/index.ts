import { join } from 'node:path';
import { openSqlite } from '@beacon/core';
import { apiKeys } from './schema/api-keys';
import { auditLog } from './schema/audit';
import { quotas } from './schema/quotas';
import { usage } from './schema/usage';

export const schema = { apiKeys, quotas, usage, auditLog };

export const openDatabase = (path: string) =>
  openSqlite(path, join(import.meta.dir, '../../drizzle'), schema);

export type ProxyDb = ReturnType<typeof openDatabase>;
