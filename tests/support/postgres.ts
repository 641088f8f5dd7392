import { afterAll, beforeAll } from 'bun:test';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { SQL } from 'bun';
import { freePort } from './ports';

const ROOT = '/usr/lib/postgresql';

/** Debian's PostgreSQL binaries (the newest installed), or undefined when none is installed. */
function binaries(): string | undefined {
  if (!existsSync(ROOT)) return undefined;
  const versions = readdirSync(ROOT)
    .filter((v) => existsSync(join(ROOT, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] && join(ROOT, versions[0], 'bin');
}

/** Whether PostgreSQL can be started here; under CI (CI=true) it must. */
export function hasPostgres(): boolean {
  const found = binaries() !== undefined;
  if (!found && Bun.env.CI === 'true') throw new Error('PostgreSQL is required under CI but not installed');
  return found;
}

/**
 * The dialects a store test runs on: SQLite, and PostgreSQL on a server of this file's own (started before
 * its tests, stopped after). `url()` is a fresh database for each call (undefined: SQLite in memory).
 */
export function storeDialects() {
  const available = hasPostgres();
  let server: TestPostgres | undefined;
  if (available) {
    beforeAll(async () => {
      server = await startPostgres();
    });
    afterAll(() => server?.stop());
  }
  return [
    { name: 'sqlite', skip: false, url: async (): Promise<string | undefined> => undefined },
    {
      name: 'postgres',
      skip: !available,
      url: async (): Promise<string | undefined> => {
        if (!server) throw new Error('PostgreSQL did not start');
        return server.database();
      },
    },
  ];
}

/**
 * A real PostgreSQL server of this test file's own: `initdb` in a temporary directory, on a free loopback
 * port, trust auth for loopback. As root it runs as the `postgres` user (initdb refuses root). `database()`
 * creates an empty database and returns its URL; `stop()` stops the server (by its pid file) and removes it.
 */
export async function startPostgres() {
  const bin = binaries();
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
  const dir = mkdtempSync('/tmp/beacon-pg-');
  const asRoot = userInfo().uid === 0;
  if (asRoot) chownSync(dir, Number(uid('postgres')), Number(uid('postgres', 'g')));
  const run = (args: string[]) =>
    Bun.spawnSync(asRoot ? ['runuser', '-u', 'postgres', '--', ...args] : args, {
      stdout: 'pipe',
      stderr: 'pipe',
    });
  const data = join(dir, 'data');
  const init = run([join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  if (init.exitCode !== 0) throw new Error(`initdb failed: ${init.stderr.toString()}`);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const start = run([join(bin, 'pg_ctl'), '-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']);
  if (start.exitCode !== 0) throw new Error(`PostgreSQL did not start: ${start.stderr.toString()}`);
  const urlOf = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  const admin = new SQL({ url: urlOf('postgres'), max: 1 });
  let n = 0;
  return {
    port,
    /** A fresh, empty database. */
    async database(prefix = 'beacon'): Promise<string> {
      const name = `${prefix}_${process.pid}_${++n}`;
      await admin.unsafe(`CREATE DATABASE ${name}`);
      return urlOf(name);
    },
    /** Stop the server as a crash would (immediate mode) or cleanly, and start it again on the same port. */
    stopServer: (mode: 'fast' | 'immediate' = 'fast') =>
      run([join(bin, 'pg_ctl'), '-D', data, '-m', mode, '-w', 'stop']),
    startServer: () =>
      run([join(bin, 'pg_ctl'), '-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']),
    async stop() {
      await admin.close({ timeout: 1 }).catch(() => {});
      run([join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type TestPostgres = Awaited<ReturnType<typeof startPostgres>>;

const uid = (user: string, which: 'u' | 'g' = 'u') =>
  Bun.spawnSync(['id', `-${which}`, user])
    .stdout.toString()
    .trim();
