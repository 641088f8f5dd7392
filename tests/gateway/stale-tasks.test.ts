import { afterEach, describe, expect, test } from 'bun:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@beacon/core';
import { Registry } from 'prom-client';
import { loadConfig } from '../../packages/gateway/src/config';
import { type GatewayStore, openDatabase } from '../../packages/gateway/src/db';
import { createDeps } from '../../packages/gateway/src/deps';
import { TaskStore } from '../../packages/gateway/src/tasks';
import { storeDialects } from '../support/postgres';
import { eventually } from '../support/wait';

for (const dialect of storeDialects())
  describe.skipIf(dialect.skip)(`stale tasks on ${dialect.name}`, () => {
    let stop: (() => Promise<void>) | undefined;
    let store: GatewayStore | undefined;
    afterEach(async () => {
      await stop?.();
      stop = undefined;
    });

    test("a task a killed gateway left running is ended by a live gateway's sweep, without a restart", async () => {
      store = openDatabase(':memory:', await dialect.url());
      await store.ready;
      const config = loadConfig({
        BEACON_PLATFORM_URL: 'http://127.0.0.1:1',
        BEACON_DISPATCH_TIMEOUT: '1',
        BEACON_HOME: mkdtempSync(join(tmpdir(), 'beacon-gw-home-')),
        BEACON_DATA_DIR: mkdtempSync(join(tmpdir(), 'beacon-gw-data-')),
      });
      const live = createDeps(
        config,
        {
          identity: { name: 'gateway', version: 'test' },
          log: createLogger({ service: 'gateway', level: 'silent' }),
          registry: new Registry(),
        },
        { store },
      );
      await live.start();
      stop = async () => {
        for (const step of live.stop.steps) await step();
      };
      // What a gateway killed with kill -9 leaves: its task stored as running, after the live one started.
      const killed = new TaskStore(100, store);
      killed.create('t-orphan', 'alice', 'tr-1');
      await killed.flush();
      const ended = await eventually(async () => {
        const task = await new TaskStore(100, store as GatewayStore).get('t-orphan');
        return task?.status === 'failed' ? task : undefined;
      }, 10_000);
      expect(ended.error).toMatchObject({
        code: 'interrupted',
        message: expect.stringContaining('its gateway stopped'),
      });
    });
  });
