import { Database } from 'bun:sqlite';
import { afterEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@beacon/core';
import { openDatabase } from '../../packages/proxy/src/db';
import { usage } from '../../packages/proxy/src/db/schema/usage';
import { createUsageStore, type UsageInsert } from '../../packages/proxy/src/usage-store';
import { startFakeUpstream } from '../support/fake-upstream';
import { post } from '../support/http';
import { openaiCall } from '../support/proxy';
import { startService } from '../support/service';
import { eventually } from '../support/wait';

const row = (traceId: string): UsageInsert => ({
  at: new Date(),
  user: 'uma',
  handle: null,
  keyId: null,
  provider: 'openai',
  model: 'gpt-4o',
  stream: false,
  inputTokens: 1,
  outputTokens: 2,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  costUsd: 0.001,
  status: 'ok',
  httpStatus: 200,
  durationMs: 3,
  traceId,
});

describe('usage writer', () => {
  const log = createLogger({ service: 'proxy', level: 'silent' });

  test('appended rows reach the table on their own within the flush window', async () => {
    const db = openDatabase(':memory:');
    const writer = createUsageStore(db, log);
    for (const id of ['a', 'b', 'c']) writer.append(row(id));
    const traceIds = () =>
      db
        .select({ id: usage.traceId })
        .from(usage)
        .all()
        .map((r) => r.id);
    await eventually(() => traceIds().length === 3, 1000);
    expect(traceIds()).toEqual(['a', 'b', 'c']);
  });

  test('a database that refuses writes keeps the rows, reports it, and writes them once it recovers', async () => {
    const db = openDatabase(':memory:');
    const writer = createUsageStore(db, log);
    db.$client.exec('ALTER TABLE usage RENAME TO usage_away');
    writer.append(row('kept-1'));
    writer.append(row('kept-2'));
    writer.flush();
    await expect(writer.check()).rejects.toThrow('2 usage rows not yet written');
    writer.append(row('kept-3'));
    db.$client.exec('ALTER TABLE usage_away RENAME TO usage');
    writer.flush();
    expect(
      db
        .select()
        .from(usage)
        .all()
        .map((r) => r.traceId),
    ).toEqual(['kept-1', 'kept-2', 'kept-3']);
    await writer.check();
  });
});

describe('proxy shutdown', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('SIGTERM during a streaming call: the call finishes and its usage row is written', async () => {
    dir = mkdtempSync(join(tmpdir(), 'beacon-proxy-stop-'));
    const fake = startFakeUpstream({ chunks: 6, chunkDelayMs: 50 });
    const proxy = await startService('proxy', {
      BEACON_DATA_DIR: dir,
      BEACON_UPSTREAM_OPENAI_URL: fake.url,
      BEACON_UPSTREAM_ANTHROPIC_URL: fake.url,
    });
    try {
      const created = await post(`${proxy.url}/api/keys`, { user: 'stan' });
      const { key } = (await created.json()) as { key: string };
      const res = await post(`${proxy.url}/v1/chat/completions`, openaiCall('gpt-4o', true), {
        authorization: `Bearer ${key}`,
      });
      const stopped = proxy.stop();
      const text = await res.text();
      await stopped;
      expect(text).toContain('[DONE]');
      const db = new Database(join(dir, 'proxy.sqlite'), { readonly: true });
      const rows = db.query('SELECT user, status, output_tokens FROM usage').all();
      db.close();
      expect(rows).toEqual([{ user: 'stan', status: 'ok', output_tokens: 40 }]);
    } finally {
      await proxy.stop();
      fake.stop();
    }
  });
});
