/**
 * Resource history: the write cost of one stats cycle for 100 containers (ms, bytes) against writing each
 * sample in its own statement, the storage per container-day, and GET …/metrics for 24 h of raw samples
 * against reading the same rows without HTTP/JSON. Synthetic stats into a real SQLite file; no Docker.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@beacon/core';
import { Registry } from 'prom-client';
import { createApp } from '../packages/platform/src/app';
import { openDatabase } from '../packages/platform/src/db';
import { samples } from '../packages/platform/src/db/schema/samples';
import { toSample } from '../packages/platform/src/domain/history';
import type { ContainerStats } from '../packages/platform/src/domain/stats';
import { createMetrics } from '../packages/platform/src/metrics';
import { createHistory } from '../packages/platform/src/observe/history';
import { createPlatformParts } from '../tests/support/docker';

const HOUR = 3_600_000;
const INTERVAL = 15_000;
const log = createLogger({ service: 'platform', level: 'silent' });

const stats = (i: number, t: number): ContainerStats => ({
  cpuPercent: (i * 7 + t) % 100,
  cpuSeconds: t,
  memoryBytes: 50_000_000 + ((i * 31 + t) % 1000) * 4096,
  memoryLimitBytes: 536_870_912,
  networkRxBytes: t * 1500 + i,
  networkTxBytes: t * 700 + i,
  pids: 3 + (t % 5),
  sample: { totalUsage: 0, systemUsage: 0, onlineCpus: 2 },
});
const cycle = (count: number, t: number) =>
  new Map(Array.from({ length: count }, (_, i) => [`bench-${i}`, stats(i, t)] as const));
const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ?? 0;
const fileBytes = (path: string) =>
  ['', '-wal'].reduce((a, s) => a + (statSync(path + s, { throwIfNoEntry: false })?.size ?? 0), 0);

export async function benchHistory(count = 100) {
  console.log(`\n== history: ${count} containers, one sample each per ${INTERVAL / 1000} s cycle`);
  const dir = mkdtempSync(join(tmpdir(), 'beacon-bench-history-'));
  try {
    // Write cost, ours (one statement per cycle, minutes closed as they end) against one statement per sample.
    const path = join(dir, 'ours.sqlite');
    const db = openDatabase(path);
    const history = createHistory({ db, log, rawMs: 24 * HOUR, aggregateMs: 30 * 24 * HOUR });
    const base = Math.floor(Date.now() / HOUR) * HOUR - 24 * HOUR;
    const cycles = 960; // 4 hours of cycles
    const ours: number[] = [];
    for (let t = 0; t < cycles; t++) {
      const collected = cycle(count, t);
      const start = performance.now();
      history.record(base + t * INTERVAL, collected);
      ours.push(performance.now() - start);
    }
    db.$client.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    const rawRows = (db.$client.query('SELECT count(*) AS n FROM samples').get() as { n: number }).n;
    const minuteRows = (db.$client.query('SELECT count(*) AS n FROM sample_minutes').get() as { n: number })
      .n;
    const pageBytes = (table: string) =>
      (db.$client.query(`SELECT sum(pgsize) AS b FROM dbstat WHERE name = '${table}'`).get() as { b: number })
        .b;
    const rawPerRow = pageBytes('samples') / rawRows;
    const minutePerRow = pageBytes('sample_minutes') / minuteRows;
    const perDay = rawPerRow * (86_400_000 / INTERVAL) + minutePerRow * 1440;

    const naiveDb = openDatabase(join(dir, 'naive.sqlite'));
    const naive: number[] = [];
    for (let t = 0; t < 200; t++) {
      const rows = [...cycle(count, t)].map(([h, s]) => toSample(h, base + t * INTERVAL, s, undefined));
      const start = performance.now();
      for (const row of rows) naiveDb.insert(samples).values(row).run();
      naive.push(performance.now() - start);
    }
    const p50 = percentile(ours, 0.5);
    const naiveP50 = percentile(naive, 0.5);
    console.log(
      `write per cycle (${count} samples)    p50 ${p50.toFixed(2)} ms  p99 ${percentile(ours, 0.99).toFixed(2)} ms (minute boundaries close ${count} aggregates)`,
    );
    console.log(
      `  one statement per sample        p50 ${naiveP50.toFixed(2)} ms   ratio ${(naiveP50 / p50).toFixed(1)}x slower`,
    );
    console.log(
      `bytes per cycle                   ${(rawPerRow * count).toFixed(0)} B raw (${rawPerRow.toFixed(1)} B per sample, ${minutePerRow.toFixed(1)} B per minute row)`,
    );
    console.log(
      `per container-day                 ${(perDay / 1024).toFixed(0)} KiB (raw ${((rawPerRow * 5760) / 1024).toFixed(0)} KiB + minutes ${((minutePerRow * 1440) / 1024).toFixed(0)} KiB); 24 h raw + 30 d minutes ≈ ${(((rawPerRow * 5760 + minutePerRow * 1440 * 30) * count) / 1024 / 1024).toFixed(0)} MiB for ${count} containers`,
    );

    // 24 h of raw samples for one container, through the API, against the same read without HTTP and JSON.
    for (let t = cycles; t < 5760; t++) history.record(base + t * INTERVAL, cycle(count, t));
    console.log(
      `database                          ${(fileBytes(path) / 1024 / 1024).toFixed(0)} MiB with 24 h raw for ${count} containers`,
    );
    const parts = createPlatformParts();
    const registry = new Registry();
    const app = createApp({
      identity: { name: 'platform', version: 'bench' },
      registry,
      metrics: createMetrics(registry),
      log,
      docker: parts.docker,
      containers: parts.containers,
      history,
    });
    const from = new Date(base).toISOString();
    const to = new Date(base + 24 * HOUR).toISOString();
    const url = `/api/containers/bench-7/metrics?step=raw&from=${from}&to=${to}`;
    const api: number[] = [];
    const direct: number[] = [];
    let points = 0;
    for (let i = 0; i < 30; i++) {
      let start = performance.now();
      const res = await app.request(url);
      points = ((await res.json()) as { samples: unknown[] }).samples.length;
      api.push(performance.now() - start);
      start = performance.now();
      history.raw('bench-7', base, base + 24 * HOUR);
      direct.push(performance.now() - start);
    }
    const apiP50 = percentile(api, 0.5);
    console.log(`GET …/metrics 24 h raw            p50 ${apiP50.toFixed(1)} ms for ${points} samples`);
    console.log(
      `  the rows alone (no HTTP/JSON)   p50 ${percentile(direct, 0.5).toFixed(1)} ms   ratio ${(apiP50 / percentile(direct, 0.5)).toFixed(1)}x`,
    );
    const week = await timedRequest(
      app,
      `/api/containers/bench-7/metrics?from=${new Date(base - 6 * 24 * HOUR).toISOString()}&to=${to}`,
    );
    console.log(`GET …/metrics 7 d (minutes)       ${week.ms.toFixed(1)} ms for ${week.points} points`);
    const prune = performance.now();
    history.prune(base + 25 * HOUR);
    console.log(
      `prune (1 h of ${count} containers out of 25 h)  ${(performance.now() - prune).toFixed(0)} ms (every 10 min)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function timedRequest(app: { request: (url: string) => Response | Promise<Response> }, url: string) {
  const start = performance.now();
  const res = await app.request(url);
  const points = ((await res.json()) as { samples: unknown[] }).samples.length;
  return { ms: performance.now() - start, points };
}

if (import.meta.main) await benchHistory();
