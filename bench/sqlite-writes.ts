/**
 * SQLite writes on the event loop at the proxy's pace: each call's pending usage row (three rows per 2 ms,
 * ~1,500 a second), through the proxy's own usage store, on the connection every service opens
 * (checkpoints on a thread of their own) against one with SQLite's default (a checkpoint inside the commit
 * that crosses 1,000 pages of log). Time per write as the event loop sees it.
 */
import { Database } from 'bun:sqlite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, SQLITE_PRAGMAS, sqliteStore } from '@beacon/core';
import { drizzle } from 'drizzle-orm/bun-sqlite';
import { openDatabase, schema } from '../packages/proxy/src/db';
import { createUsageStore } from '../packages/proxy/src/usage-store';
import { usageRow } from '../tests/support/proxy';

const log = createLogger({ service: 'proxy', level: 'silent' });

const pendingRow = () =>
  usageRow({
    user: 'bench',
    keyId: 'bench-key',
    status: 'pending',
    inputTokens: 0,
    outputTokens: 0,
    costUsd: 0,
    reservedUsd: 0.001,
  });

async function paced(usage: ReturnType<typeof createUsageStore>, writes: number) {
  const times: number[] = [];
  for (let i = 0; i < writes; i++) {
    const start = performance.now();
    await usage.begin(pendingRow());
    times.push(performance.now() - start);
    if (i % 3 === 2) await Bun.sleep(2);
  }
  const sorted = times.sort((a, b) => a - b);
  const at = (p: number) => (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0) * 1000;
  return { mean: (times.reduce((a, b) => a + b, 0) * 1000) / times.length, p99: at(0.99), max: at(1) };
}

export async function benchSqliteWrites(writes = 9000) {
  console.log(`\n== SQLite writes on the event loop: ${writes} pending usage rows, ~1,500 a second`);
  const dir = mkdtempSync(join(tmpdir(), 'beacon-bench-sqlite-'));
  try {
    const ours = openDatabase(join(dir, 'ours.sqlite'));
    // The baseline: the same schema (migrated by openDatabase, then reopened) on a connection with the
    // services' settings but SQLite's own checkpoints.
    const plainPath = join(dir, 'plain.sqlite');
    await openDatabase(plainPath).close();
    const plain = new Database(plainPath);
    plain.exec(SQLITE_PRAGMAS);
    const inline = sqliteStore(drizzle(plain, { schema }), schema);
    const figures = [];
    for (const [label, store] of [
      ['checkpoints in the commit (SQLite default)', inline],
      ['checkpoints on their own thread (ours)    ', ours],
    ] as const) {
      const usage = createUsageStore(store as never, log);
      await paced(usage, 600); // warm up
      const f = await paced(usage, writes);
      figures.push(f);
      console.log(
        `${label}  mean ${f.mean.toFixed(1)} µs  p99 ${f.p99.toFixed(1)} µs  max ${(f.max / 1000).toFixed(2)} ms`,
      );
      await store.close();
    }
    const [base, ourFigures] = figures as [(typeof figures)[0], (typeof figures)[0]];
    console.log(
      `  ratio ours / default: mean ${(ourFigures.mean / base.mean).toFixed(2)}, p99 ${(ourFigures.p99 / base.p99).toFixed(2)}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) await benchSqliteWrites();
