import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import { hasPostgres, startPostgres, type TestPostgres } from '../support/postgres';
import { buildProxy, openaiCall, type TestProxy } from '../support/proxy';
import { eventually } from '../support/wait';

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe.skipIf(!hasPostgres())('budgets on PostgreSQL when the database goes away', () => {
  let pg: TestPostgres;
  let proxy: TestProxy | undefined;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await proxy?.stop().catch(() => {});
    await pg?.stop();
  });

  test('PostgreSQL killed for 5 s under calls in flight: every cost reaches the budget, no reservation sticks', async () => {
    proxy = await buildProxy({ latencyMs: 1500 }, { databaseUrl: await pg.database() });
    const p = proxy;
    const key = await p.keyFor('pia');
    await p.setQuota('pia', { dailyUsd: 100 });
    const calls = Array.from({ length: 6 }, () =>
      p.post('/v1/chat/completions', { ...openaiCall(), max_tokens: 100 }, bearer(key)),
    );
    await Bun.sleep(500); // reserved and pending, the upstream still answering
    pg.stopServer('immediate');
    const answered = await Promise.all(calls);
    expect(answered.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    await Bun.sleep(5000);
    pg.startServer();
    // The settles and the final rows are written once it is back.
    const quota = await eventually(async () => {
      const q = await (await p.app.request('/api/quotas/pia')).json().catch(() => undefined);
      return q?.reservedUsd === 0 && q.spentTodayUsd > 0 ? q : undefined;
    }, 40_000);
    const rows = await p.rows();
    const spent = rows.filter((r) => r.status === 'ok').reduce((a, r) => a + r.costUsd, 0);
    expect(rows.filter((r) => r.status === 'ok')).toHaveLength(6);
    expect(quota.spentTodayUsd).toBeCloseTo(spent, 12);
  }, 60_000);

  test('a reservation a dead replica left, with no call in flight, is counted again from usage at the second look', async () => {
    proxy = await buildProxy({}, { databaseUrl: await pg.database() });
    const key = await proxy.keyFor('quin');
    await proxy.setQuota('quin', { dailyUsd: 100 });
    expect((await proxy.post('/v1/chat/completions', openaiCall(), bearer(key))).status).toBe(200);
    const spent = (await proxy.rows()).reduce((a, r) => a + r.costUsd, 0);
    const { db, t } = proxy.store;
    await eventually(async () =>
      (await proxy?.app.request('/api/quotas/quin'))?.json().then((q) => q.reservedUsd === 0),
    );
    // What a replica killed between a reserve and its settle leaves: the reservation held, the cost not counted.
    await db
      .update(t.spend)
      .set({ reservedUsd: 0.4, dayUsd: 0, monthUsd: 0 })
      .where(eq(t.spend.user, 'quin'));
    const quotas = proxy.services.quotas;
    expect(await quotas.recountOrphans()).toEqual([]); // first look: noted
    expect(await quotas.recountOrphans()).toEqual(['quin']); // unchanged a look later: counted again
    const q = await (await proxy.app.request('/api/quotas/quin')).json();
    expect(q.reservedUsd).toBe(0);
    expect(Math.abs(q.spentTodayUsd - spent)).toBeLessThanOrEqual(5.000001e-7); // answers give micro-dollars
    // A reservation with a call in flight is left alone.
    await db.update(t.spend).set({ reservedUsd: 0.4 }).where(eq(t.spend.user, 'quin'));
    await proxy.services.usage.begin({
      ...(await proxy.rows())[0],
      id: undefined,
      status: 'pending',
      costUsd: 0,
    } as never);
    await quotas.recountOrphans();
    expect(await quotas.recountOrphans()).toEqual([]);
  });
});
