import { join } from 'node:path';
import { openSqlite } from '@beacon/core';
import { containers } from './schema/containers';
import { poolMembers } from './schema/pool-members';
import { releases } from './schema/releases';

export const schema = { containers, poolMembers, releases };

export const openDatabase = (path: string) =>
  openSqlite(path, join(import.meta.dir, '../../drizzle'), schema);

export type PlatformDb = ReturnType<typeof openDatabase>;
