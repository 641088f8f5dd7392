import { join } from 'node:path';
import { openSqlite } from '@beacon/core';
import { auditLog } from './schema/audit';
import { containers } from './schema/containers';
import { events } from './schema/events';
import { poolMembers } from './schema/pool-members';
import { releases } from './schema/releases';
import { sampleMinutes, samples } from './schema/samples';

export const schema = { containers, poolMembers, releases, events, samples, sampleMinutes, auditLog };

export const openDatabase = (path: string) =>
  openSqlite(path, join(import.meta.dir, '../../drizzle/sqlite'), schema);

export type PlatformDb = ReturnType<typeof openDatabase>;
