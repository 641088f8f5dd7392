import { join } from 'node:path';
import { openSqlite } from '@beacon/core';
import { auditLog } from './schema/audit';
import { containers } from './schema/containers';
import { events } from './schema/events';
import { poolMembers } from './schema/pool-members';
import { releases } from './schema/releases';

export const schema = { containers, poolMembers, releases, events, auditLog };

export const openDatabase = (path: string) =>
  openSqlite(path, join(import.meta.dir, '../../drizzle'), schema);

export type PlatformDb = ReturnType<typeof openDatabase>;
