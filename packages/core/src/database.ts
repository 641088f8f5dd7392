import { Database } from 'bun:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SQL } from 'bun';
import { getTableColumns, type SQL as Query, sql, type Table } from 'drizzle-orm';
import { drizzle as pgDrizzle } from 'drizzle-orm/bun-sql';
import { migrate as pgMigrate } from 'drizzle-orm/bun-sql/migrator';
import { type BunSQLiteDatabase, drizzle as sqliteDrizzle } from 'drizzle-orm/bun-sqlite';
import { migrate as sqliteMigrate } from 'drizzle-orm/bun-sqlite/migrator';
import type { Logger } from 'pino';
import type { Probe } from './health';

export type Dialect = 'sqlite' | 'postgres';

/**
 * A service's store on SQLite (the zero-setup default) or PostgreSQL (`BEACON_DATABASE_URL`), behind one
 * drizzle query builder. Store code is written once for both: it only awaits queries (never the SQLite-only
 * `.get()/.all()/.run()`), writes many rows as one statement instead of a transaction, and takes its tables
 * from `t`, the running dialect's schema. `db` and `t` are typed as the SQLite schema; on PostgreSQL they
 * are the PostgreSQL schema, which declares the same tables and columns with the same JS types (the store
 * tests run on both dialects to hold this).
 */
export interface Store<S extends Record<string, unknown>> {
  dialect: Dialect;
  db: BunSQLiteDatabase<S>;
  t: S;
  /**
   * Resolves once the migrations are applied (at once on SQLite); on PostgreSQL it tries again every 2 s
   * while the server cannot be reached, and `problem()` says why it is not ready yet.
   */
  ready: Promise<void>;
  problem(): string | undefined;
  /** Raw SQL (drizzle's `sql`), its rows. */
  exec(query: Query): Promise<unknown[]>;
  /** Tell every replica on this database (PostgreSQL NOTIFY; in-process on SQLite, which has one). */
  notify(channel: string, payload: string): Promise<void>;
  /** Hear what notify() sends on a channel, from any replica; resolves once listening. */
  listen(channel: string, fn: (payload: string) => void): Promise<void>;
  close(): Promise<void>;
}

export interface StoreOptions<S extends Record<string, unknown>, P extends { [K in keyof S]: unknown }> {
  /** `postgres://…` (or `postgresql://…`): PostgreSQL; else the SQLite file at `path` (or `:memory:`). */
  url?: string | undefined;
  path: string;
  /** Holds `sqlite/` and `pg/`, each drizzle-kit's output for that dialect. */
  migrations: string;
  sqlite: S;
  pg: P;
  /** Where each failed attempt to reach PostgreSQL at start is logged (it is tried again). */
  log?: Logger;
}

const isPostgresUrl = (url: string | undefined): url is string => !!url && /^postgres(ql)?:\/\//.test(url);

/** Open a service's store and apply its pending migrations (on PostgreSQL under an advisory lock, so
 *  replicas starting together apply them once). */
export function openStore<S extends Record<string, unknown>, P extends { [K in keyof S]: unknown }>(
  o: StoreOptions<S, P>,
): Store<S> {
  return isPostgresUrl(o.url) ? openPostgres(o.url, o) : openSqliteStore(o);
}

const openSqliteStore = <S extends Record<string, unknown>>(
  o: Pick<StoreOptions<S, never>, 'path' | 'migrations' | 'sqlite'>,
) => sqliteStore(openSqlite(o.path, join(o.migrations, 'sqlite'), o.sqlite), o.sqlite);

/** A Store over a SQLite database already opened (and migrated) with openSqlite. */
export function sqliteStore<S extends Record<string, unknown>>(
  db: BunSQLiteDatabase<S> & { $client: Database },
  t: S,
): Store<S> {
  const listeners = new Map<string, Set<(payload: string) => void>>();
  return {
    dialect: 'sqlite',
    db,
    t,
    ready: Promise.resolve(),
    problem: () => undefined,
    exec: async (query) => db.all(query),
    notify: async (channel, payload) => {
      for (const fn of listeners.get(channel) ?? []) fn(payload);
    },
    listen: async (channel, fn) => {
      listeners.set(channel, (listeners.get(channel) ?? new Set()).add(fn));
    },
    close: async () => db.$client.close(),
  };
}

/** Any integer key: the lock every Beacon replica takes while it migrates. */
const MIGRATION_LOCK = 0x6265_6163;

function openPostgres<S extends Record<string, unknown>, P extends { [K in keyof S]: unknown }>(
  url: string,
  o: StoreOptions<S, P>,
): Store<S> {
  const client = new SQL({ url, max: 10, idleTimeout: 30, connectionTimeout: 10 });
  const migrate = async () => {
    const conn = await client.reserve();
    try {
      await conn`select pg_advisory_lock(${MIGRATION_LOCK})`;
      await pgMigrate(pgDrizzle({ client: conn }), { migrationsFolder: join(o.migrations, 'pg') });
    } finally {
      await conn`select pg_advisory_unlock(${MIGRATION_LOCK})`.catch(() => {});
      conn.release();
    }
  };
  let problem: string | undefined = 'not connected yet';
  const ready = (async () => {
    for (;;) {
      try {
        await migrate();
        problem = undefined;
        return;
      } catch (err) {
        problem = `PostgreSQL not ready: ${err instanceof Error ? err.message : String(err)}`;
        o.log?.error(
          { event: 'database.unreachable', err: String(err) },
          'PostgreSQL not reachable; trying again in 2 s',
        );
        await Bun.sleep(2000);
      }
    }
  })();
  const db = pgDrizzle({ client, schema: o.pg as Record<string, unknown> });
  return {
    dialect: 'postgres',
    // The one place the two dialects meet: see Store.
    db: db as unknown as BunSQLiteDatabase<S>,
    t: o.pg as unknown as S,
    ready,
    problem: () => problem,
    exec: async (query) => (await db.execute(query)) as unknown[],
    notify: async (channel, payload) => {
      await client`select pg_notify(${channel}, ${payload})`;
    },
    // Once the server answers (ready retries until then); if the listening connection is lost later, the
    // caches built on it still expire by their TTL.
    listen: async (channel, fn) => {
      await ready;
      await client.listen(channel, fn);
    },
    close: () => client.close({ timeout: 5 }),
  };
}

/** Every service's SQLite connection: write-ahead log, a 5 s wait for a lock, a sync only at checkpoints. */
export const SQLITE_PRAGMAS =
  'PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;';

/** How often a database file's write-ahead log is copied back into it, by its checkpointer thread. */
const CHECKPOINT_EVERY_MS = 100;
/** The connection checkpoints by itself only past this many pages of log (~40 MB): its checkpointer stopped. */
const CHECKPOINT_BACKSTOP_PAGES = 10_000;

/**
 * A SQLite connection in WAL mode whose checkpoints run on a thread of their own. SQLite's default
 * checkpoint runs inside the commit that crosses 1,000 pages of log: at the proxy's rate, about one
 * write in 180 spent milliseconds on the event loop copying pages and syncing, half of all write time.
 * Closing the connection stops its checkpointer.
 */
class CheckpointedDatabase extends Database {
  readonly #checkpointer: Worker | undefined;

  constructor(path: string) {
    super(path, { create: true });
    this.exec(SQLITE_PRAGMAS);
    if (path === ':memory:') return;
    this.exec(`PRAGMA wal_autocheckpoint = ${CHECKPOINT_BACKSTOP_PAGES}`);
    this.#checkpointer = new Worker(new URL('./sqlite-checkpointer.ts', import.meta.url), {
      workerData: { path, everyMs: CHECKPOINT_EVERY_MS },
    });
    // A checkpointer that fails leaves the connection's backstop; it never takes the service down.
    this.#checkpointer.on('error', () => {});
    this.#checkpointer.unref();
  }

  override close(throwOnError?: boolean): void {
    this.#checkpointer?.postMessage('stop');
    super.close(throwOnError);
  }
}

/** Open (creating if needed) a SQLite database with drizzle and apply pending migrations. */
export function openSqlite<S extends Record<string, unknown>>(
  path: string,
  migrationsFolder: string,
  schema: S,
) {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = sqliteDrizzle(new CheckpointedDatabase(path), { schema });
  sqliteMigrate(db, { migrationsFolder });
  return db;
}

/** An upsert's `set`: every column but `except` takes the value the statement tried to insert. */
export function excluded(table: Table, except: string[] = []): Record<string, Query> {
  return Object.fromEntries(
    Object.entries(getTableColumns(table))
      .filter(([key]) => !except.includes(key))
      .map(([key, column]) => [key, sql.raw(`excluded."${column.name}"`)]),
  );
}

/** A statement prepared once and run with placeholder values. */
interface Prepared {
  execute(values: Record<string, unknown>): Promise<unknown>;
}

/**
 * Writes of a few rows (every row naming every one of `columns`) as one statement prepared once per row
 * count up to `max`: building a statement costs more than running it; under light load a flush holds a
 * row or two, at the proxy's 1,500 calls a second 5–15 (its flush every 5 ms). `prepare` gets each row's
 * placeholders (`<column>_<row>`); larger batches return undefined for the caller to build.
 */
export function preparedRows(
  columns: readonly string[],
  prepare: (rows: Record<string, unknown>[]) => Prepared,
  max = 32,
) {
  const bySize = new Map<number, Prepared>();
  // Row i's placeholder names, made once: building them for every write cost 23 µs for 7 rows of 18 columns.
  const names = Array.from({ length: max }, (_, i) => columns.map((k) => `${k}_${i}`));
  return (rows: readonly Record<string, unknown>[]): Promise<unknown> | undefined => {
    if (rows.length === 0 || rows.length > max) return undefined;
    let statement = bySize.get(rows.length);
    if (!statement) {
      statement = prepare(
        rows.map((_, i) =>
          Object.fromEntries(columns.map((k, j) => [k, sql.placeholder(names[i]?.[j] ?? '')])),
        ),
      );
      bySize.set(rows.length, statement);
    }
    const values: Record<string, unknown> = {};
    rows.forEach((row, i) => {
      const own = names[i] ?? [];
      columns.forEach((k, j) => {
        values[own[j] ?? ''] = row[k];
      });
    });
    return statement.execute(values);
  };
}

/**
 * A required probe that the database still takes writes: one row rewritten in `beacon_probe` (a disk that is
 * full or a file that turned read-only fails it; a read would not).
 */
export function databaseProbe(
  store: Pick<Store<Record<string, unknown>>, 'exec' | 'problem'>,
  name = 'database',
  /** What else must hold (e.g. no rows waiting on a failing write). */
  also?: () => Promise<void>,
): Probe {
  let created = false;
  return {
    name,
    required: true,
    check: async () => {
      const problem = store.problem();
      if (problem) throw new Error(problem);
      if (!created) {
        await store.exec(
          sql`CREATE TABLE IF NOT EXISTS beacon_probe (id INTEGER PRIMARY KEY, at BIGINT NOT NULL)`,
        );
        created = true;
      }
      await store.exec(
        sql`INSERT INTO beacon_probe (id, at) VALUES (1, ${Date.now()}) ON CONFLICT (id) DO UPDATE SET at = excluded.at`,
      );
      await also?.();
    },
  };
}
