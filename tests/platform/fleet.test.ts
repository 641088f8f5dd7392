import { afterEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@beacon/core';
import type { ContainerRow } from '../../packages/platform/src/db/schema/containers';
import { createFleet, LOST_AFTER_MS, openFleetStore } from '../../packages/platform/src/fleet';
import { storeDialects } from '../support/postgres';

const log = createLogger({ service: 'platform', level: 'silent' });

const row = (handle: string, memoryMb: number, state = 'running'): ContainerRow =>
  ({
    handle,
    owner: handle,
    image: 'beacon-test:v2',
    spec: { image: 'beacon-test:v2', env: { SECRET: 'x' }, memoryMb, cpus: 1, ttlSeconds: 0, health: 'none' },
    state,
    desired: 'running',
    containerId: `id-${handle}`,
    restarts: 0,
    lastExit: null,
    createdAt: new Date('2026-12-01T00:00:00Z'),
    expiresAt: null,
  }) as ContainerRow;

for (const dialect of storeDialects())
  describe.skipIf(dialect.skip)(`the fleet store on ${dialect.name}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-fleet-'));
    const stops: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const stop of stops.splice(0)) await stop();
      rmSync(dir, { recursive: true, force: true });
    });

    /** Two platforms on one store (a SQLite file both open, or one PostgreSQL database), on one clock. */
    async function twoHosts() {
      const url = await dialect.url();
      const path = join(dir, `fleet-${Math.random()}.sqlite`);
      let clock = Date.now();
      const records = { a: [] as ContainerRow[], b: [] as ContainerRow[] };
      const engineUp = { a: true, b: true };
      const fleets = (['a', 'b'] as const).map((h) =>
        createFleet({
          store: openFleetStore(url, path),
          host: `host-${h}`,
          url: `http://platform-${h}:9000`,
          log,
          records: () => records[h],
          ping: async () => {
            if (!engineUp[h]) throw new Error('engine down');
          },
          now: () => clock,
        }),
      );
      for (const f of fleets) {
        await f.start();
        stops.push(() => f.stop());
      }
      const [a, b] = fleets as [ReturnType<typeof createFleet>, ReturnType<typeof createFleet>];
      return { a, b, records, engineUp, tick: (ms: number) => (clock += ms) };
    }

    test("each host's containers are listed by both, with their host; env values never leave their host", async () => {
      const { a, b, records } = await twoHosts();
      records.a.push(row('alice', 256));
      records.b.push(row('bob', 64), row('carol', 64, 'stopped'));
      await Promise.all([a.sync(), b.sync()]);
      for (const f of [a, b]) {
        const list = await f.list();
        expect(list.map((v) => [v.handle, v.host, v.state])).toEqual([
          ['alice', 'host-a', 'running'],
          ['bob', 'host-b', 'running'],
          ['carol', 'host-b', 'stopped'],
        ]);
        expect(JSON.stringify(list)).not.toContain('"x"');
      }
      expect((await a.locate('bob'))?.host).toBe('host-b');
      expect(await a.locate('nobody')).toBeUndefined();
      // Removed on its host: gone from the fleet.
      records.b.splice(0, 1);
      await b.sync();
      expect((await a.list()).map((v) => v.handle)).toEqual(['alice', 'carol']);
    });

    test('placement: the host asked for if it is up, else the one reserving the least memory', async () => {
      const { a, b, records } = await twoHosts();
      records.a.push(row('big', 1024));
      records.b.push(row('small', 128));
      await Promise.all([a.sync(), b.sync()]);
      expect((await a.place()).host).toBe('host-b');
      expect((await b.place('host-a')).host).toBe('host-a');
      await expect(a.place('host-z')).rejects.toThrow('no host host-z is up');
    });

    test('a host whose engine is down, or that is not heard for 15 s, is not up; its containers are lost', async () => {
      const { a, b, records, engineUp, tick } = await twoHosts();
      records.b.push(row('bob', 64));
      await b.sync();
      engineUp.b = false;
      await b.beat();
      expect((await a.hosts()).find((h) => h.host === 'host-b')?.state).toBe('engine_down');
      expect((await a.list())[0]).toMatchObject({ handle: 'bob', state: 'lost' });
      await expect(a.place('host-b')).rejects.toThrow('no host host-b is up');
      tick(LOST_AFTER_MS + 1);
      const states = Object.fromEntries((await a.hosts()).map((h) => [h.host, h.state]));
      // host-a's own row is as old, but a platform places on itself whatever its heartbeat says.
      expect(states['host-b']).toBe('lost');
      expect((await a.place()).host).toBe('host-a');
    });
  });
