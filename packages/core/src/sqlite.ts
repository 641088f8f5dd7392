import { Database } from 'bun:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { drizzle } from 'drizzle-orm/bun-sqlite';
import { migrate } from 'drizzle-orm/bun-sqlite/migrator';
import type { Probe } from './health';

/** Open (creating if needed) a service's SQLite database with drizzle and apply pending migrations. */
export function openSqlite<S extends Record<string, unknown>>(
  path: string,
  migrationsFolder: string,
  schema: S,
) {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path, { create: true });
  sqlite.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;');
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder });
  return db;
}

/**
 * A required probe that the database still takes writes: one row rewritten in `beacon_probe` (a disk that is
 * full or a file that turned read-only fails it; a read would not).
 */
export function databaseProbe(
  db: { $client: Database },
  name = 'database',
  /** What else must hold (e.g. no rows waiting on a failing write). */
  also?: () => Promise<void>,
): Probe {
  const sqlite = db.$client;
  sqlite.exec('CREATE TABLE IF NOT EXISTS beacon_probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)');
  const write = sqlite.prepare('INSERT OR REPLACE INTO beacon_probe (id, at) VALUES (1, ?)');
  return {
    name,
    required: true,
    check: async () => {
      write.run(Date.now());
      await also?.();
    },
  };
}
