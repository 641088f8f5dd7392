import { Database } from 'bun:sqlite';
import { afterEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@beacon/core';
import { sql } from 'drizzle-orm';
import { openDatabase, type ProxyStore } from '../../packages/proxy/src/db';
import { createUsageStore } from '../../packages/proxy/src/usage-store';
import { startFakeUpstream } from '../support/fake-upstream';
import { post } from '../support/http';
import { storeDialects } from '../support/postgres';
import { openaiCall, usageRow } from '../support/proxy';
import { startService } from '../support/service';

const row = (traceId: string) => usageRow({ traceId });

for (const dialect of storeDialects())
  describe.skipIf(dialect.skip)(`usage writer on ${dialect.name}`, () => {
    const log = createLogger({ service: 'proxy', level: 'silent' });
    let store: ProxyStore | undefined;
    afterEach(() => store?.close());
    const open = async () => {
      store = openDatabase(':memory:', await dialect.url());
      await store.ready;
      return store;
    };
    const traceIds = async (s: ProxyStore) =>
      (await s.db.select({ id: s.t.usage.traceId }).from(s.t.usage).orderBy(s.t.usage.id)).map((r) => r.id);

    test('appended rows reach the table on their own within the flush window', async () => {
      const s = await open();
      const writer = createUsageStore(s, log);
      for (const id of ['a', 'b', 'c']) writer.append(row(id));
      for (let i = 0; i < 50 && (await traceIds(s)).length < 3; i++) await Bun.sleep(20);
      expect(await traceIds(s)).toEqual(['a', 'b', 'c']);
    });

    test('a pending row is settled in place: one row per call, in its final state', async () => {
      const s = await open();
      const writer = createUsageStore(s, log);
      const id = await writer.begin({ ...row('call-1'), status: 'pending', costUsd: 0, reservedUsd: 0.5 });
      expect(id).toBeNumber();
      writer.settle(id, row('call-1'));
      await writer.flush();
      const rows = await s.db.select().from(s.t.usage);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ traceId: 'call-1', status: 'ok', costUsd: 0.001 });
    });

    test('a database that refuses writes keeps the rows, reports it, and writes them once it recovers', async () => {
      const s = await open();
      const writer = createUsageStore(s, log);
      await s.exec(sql`ALTER TABLE usage RENAME TO usage_away`);
      writer.append(row('kept-1'));
      writer.append(row('kept-2'));
      await writer.flush();
      await expect(writer.check()).rejects.toThrow('2 usage rows not yet written');
      writer.append(row('kept-3'));
      await s.exec(sql`ALTER TABLE usage_away RENAME TO usage`);
      await writer.flush();
      expect(await traceIds(s)).toEqual(['kept-1', 'kept-2', 'kept-3']);
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
