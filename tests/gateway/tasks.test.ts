import { afterEach, describe, expect, test } from 'bun:test';
import { type GatewayStore, openDatabase } from '../../packages/gateway/src/db';
import { TaskStore } from '../../packages/gateway/src/tasks';
import { storeDialects } from '../support/postgres';

for (const dialect of storeDialects())
  describe.skipIf(dialect.skip)(`stored tasks on ${dialect.name}`, () => {
    let store: GatewayStore | undefined;
    afterEach(() => store?.close());
    const open = async () => {
      store = openDatabase(':memory:', await dialect.url());
      await store.ready;
      return store;
    };

    test('a finished task answers from a new store; one left running before the cut-off ends as interrupted', async () => {
      const db = await open();
      const before = new TaskStore(10_000, db);
      const done = before.create('t-done', 'alice', 'tr-1');
      done.status = 'completed';
      before.notify({ type: 'task.completed', data: {}, task: done });
      before.create('t-cut', 'alice', 'tr-2');
      await before.flush();
      const now = new Date(Date.now() + 1);

      const after = new TaskStore(10_000, db);
      expect(await after.get('t-done')).toMatchObject({ id: 't-done', status: 'completed' });
      // Only tasks last changed before the cut-off: the others may be another gateway's, still running.
      expect(await after.closeStale(new Date(Date.now() - 60_000), 'cut')).toBe(0);
      expect(await after.closeStale(now, 'cut')).toBe(1);
      expect(await after.get('t-cut')).toMatchObject({
        status: 'failed',
        error: { code: 'interrupted', message: 'cut' },
      });
      expect((await after.list('alice')).map((t) => t.id).sort()).toEqual(['t-cut', 't-done']);
    });

    test('a task another store created is loaded, changed, and its change is what both read', async () => {
      const db = await open();
      const first = new TaskStore(10_000, db);
      first.create('t-shared', 'bob', 'tr-3').source = 'web';
      await first.flush();
      const second = new TaskStore(10_000, db);
      expect(second.cached('t-shared')).toBeUndefined();
      const loaded = await second.load('t-shared');
      expect(loaded).toMatchObject({ handle: 'bob', source: 'web', status: 'running' });
      if (!loaded) throw new Error('not loaded');
      loaded.status = 'completed';
      second.notify({ type: 'task.completed', data: {}, task: loaded });
      await second.flush();
      expect(await new TaskStore(10_000, db).get('t-shared')).toMatchObject({
        status: 'completed',
        source: 'web',
      });
    });

    test('flushes of 1, 2, 32 and 33 tasks (prepared per size up to 32, built beyond) all write every task as it is', async () => {
      const db = await open();
      const tasks = new TaskStore(10_000, db);
      for (const size of [1, 2, 32, 33, 2]) {
        const made = Array.from({ length: size }, (_, i) =>
          tasks.create(`t-${size}-${i}-${crypto.randomUUID()}`, `h${i}`, `tr-${i}`),
        );
        await tasks.flush();
        for (const [i, task] of made.entries()) {
          task.status = i % 2 ? 'completed' : 'failed';
          task.output = `out ${size} ${i}`;
          tasks.notify({ type: 'task.completed', data: {}, task });
        }
        await tasks.flush();
        const fresh = new TaskStore(10_000, db);
        for (const [i, task] of made.entries())
          expect(await fresh.get(task.id)).toMatchObject({
            handle: `h${i}`,
            status: task.status,
            output: `out ${size} ${i}`,
            createdAt: task.createdAt,
          });
      }
    });
  });
