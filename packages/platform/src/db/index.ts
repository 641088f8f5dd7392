import { join } from 'node:path';
import { openSqlite } from '@beacon/core';
import { containers } from './schema/containers';

export const schema = { containers };

export const openDatabase = (path: string) =>
  openSqlite(path, join(import.meta.dir, '../../drizzle'), schema);

export type PlatformDb = ReturnType<typeof openDatabase>;
