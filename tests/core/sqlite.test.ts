import { Database } from 'bun:sqlite';
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite } from '@beacon/core';
import { eventually } from '../support/wait';

const dir = mkdtempSync(join(tmpdir(), 'beacon-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A migrations folder with none in it: the tests make their own table. */
const migrations = join(dir, 'migrations');
mkdirSync(join(migrations, 'meta'), { recursive: true });
writeFileSync(
  join(migrations, 'meta', '_journal.json'),
  JSON.stringify({ version: '7', dialect: 'sqlite', entries: [] }),
);

describe('SQLite connections (openSqlite)', () => {
  test('the log is copied back into the database by a thread of its own, not by a commit', async () => {
    const path = join(dir, 'checkpointed.sqlite');
    const db = openSqlite(path, migrations, {});
    const sqlite = db.$client;
    // A commit checkpoints only far past SQLite's default of 1,000 pages: its checkpointer stopped.
    expect(sqlite.query('PRAGMA wal_autocheckpoint').get()).toEqual({ wal_autocheckpoint: 10_000 });
    sqlite.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    const insert = sqlite.prepare('INSERT INTO t (v) VALUES (?)');
    const before = statSync(path).size;
    for (let i = 0; i < 500; i++) insert.run('x'.repeat(400));
    // No commit is running now: the database file grows only by the checkpointer's copying.
    await eventually(() => statSync(path).size > before + 400 * 400, 3000);
    expect(sqlite.query('SELECT count(*) AS n FROM t').get()).toEqual({ n: 500 });
    sqlite.close();
  });

  test('closing the connection stops its checkpointer', async () => {
    const path = join(dir, 'closed.sqlite');
    const db = openSqlite(path, migrations, {});
    db.$client.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    db.$client.close();
    // Writes by a connection that never checkpoints itself: only a checkpointer still running would copy them.
    const other = new Database(path);
    other.exec('PRAGMA wal_autocheckpoint = 0');
    await Bun.sleep(200);
    const before = statSync(path).size;
    const insert = other.prepare('INSERT INTO t (v) VALUES (?)');
    for (let i = 0; i < 500; i++) insert.run('x'.repeat(400));
    await Bun.sleep(500);
    expect(statSync(path).size).toBe(before);
    other.close();
  });

  test('a database closed and its directory removed at once: its checkpointer ends without an error', async () => {
    for (let i = 0; i < 20; i++) {
      const gone = mkdtempSync(join(dir, 'gone-'));
      openSqlite(join(gone, 'x.sqlite'), migrations, {}).$client.close();
      rmSync(gone, { recursive: true });
    }
    // An error in a checkpointer would reach this process as an unhandled error and fail the test.
    await Bun.sleep(300);
  });

  test('an in-memory database has no checkpointer and keeps SQLite’s own setting', () => {
    const db = openSqlite(':memory:', migrations, {});
    expect(db.$client.query('PRAGMA wal_autocheckpoint').get()).toEqual({ wal_autocheckpoint: 1000 });
    db.$client.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    expect(db.$client.query('SELECT count(*) AS n FROM t').get()).toEqual({ n: 0 });
    db.$client.close();
  });
});
