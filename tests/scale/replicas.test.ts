import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasTool } from '../support/deps';
import { startFakeUpstream } from '../support/fake-upstream';
import { post } from '../support/http';
import { startNats } from '../support/nats';
import { hasPostgres, startPostgres, type TestPostgres } from '../support/postgres';
import { openaiCall } from '../support/proxy';
import { type RunningService, startService } from '../support/service';
import { sseClient } from '../support/sse';
import { eventually } from '../support/wait';

const available = hasTool('nats-server') && hasPostgres();
const handle = 'scaled';
const ADMIN = 'scale-test-admin-token-0123456789';
const admin = { authorization: `Bearer ${ADMIN}` };
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** A service started and ready (its database migrated, its replicas heard). */
async function ready(service: string, env: Record<string, string>) {
  const s = await startService(service, { BEACON_ADMIN_TOKEN: ADMIN, ...env });
  await eventually(async () => (await fetch(`${s.url}/health/ready`)).ok, 20_000);
  return s;
}

/**
 * Two proxies and two gateways as replicas on one real PostgreSQL and one real NATS (JetStream), the real
 * kernel as a process, a fake upstream, and a stand-in for the platform's GET /api/containers/:handle (the
 * only platform call a dispatch makes; a TEST DOUBLE answering the documented shape).
 */
describe.skipIf(!available)('scale-out: replicas on one PostgreSQL and one NATS', () => {
  const work = mkdtempSync(join(tmpdir(), 'beacon-scale-'));
  const fake = startFakeUpstream({
    latencyMs: 300,
    usage: { input: 20, output: 40, cacheRead: 0, cacheWrite: 0 },
  });
  const platform = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: () => Response.json({ handle, owner: 'ola', state: 'running', docker: { ip: '127.0.0.1' } }),
  });
  let pg: TestPostgres;
  let nats: Awaited<ReturnType<typeof startNats>>;
  let proxies: RunningService[] = [];
  let gateways: RunningService[] = [];
  let kernel: RunningService;
  let proxyDb = '';
  let gatewayDb = '';
  const gatewayEnv = (n: number) => ({
    BEACON_NATS_URL: nats.url,
    BEACON_DATABASE_URL: gatewayDb,
    BEACON_PLATFORM_URL: `http://127.0.0.1:${platform.port}`,
    BEACON_DATA_DIR: join(work, `gateway-${n}`),
    BEACON_HOME: join(work, `home-${n}`),
    BEACON_DISPATCH_TIMEOUT: '30',
  });

  beforeAll(async () => {
    pg = await startPostgres();
    nats = await startNats();
    [proxyDb, gatewayDb] = [await pg.database('proxy'), await pg.database('gateway')];
    // Started together: the migrations are applied once, under the advisory lock.
    proxies = await Promise.all(
      [1, 2].map((n) =>
        ready('proxy', {
          BEACON_DATABASE_URL: proxyDb,
          BEACON_DATA_DIR: join(work, `proxy-${n}`),
          BEACON_UPSTREAM_OPENAI_URL: fake.url,
        }),
      ),
    );
    const { key } = await (await post(`${proxies[0]?.url}/api/keys`, { user: 'ola', handle }, admin)).json();
    kernel = await startService('kernel', {
      BEACON_HOST: '127.0.0.1',
      BEACON_HANDLE: handle,
      BEACON_PROXY_URL: proxies[1]?.url ?? '',
      BEACON_PROXY_KEY: key,
      BEACON_PROXY_KEY_FILE: join(work, 'no-key-file'),
      BEACON_NATS_URL: nats.url,
    });
    gateways = await Promise.all([1, 2].map((n) => ready('gateway', gatewayEnv(n))));
    await eventually(async () => {
      const res = await post(`${gateways[0]?.url}/api/message`, { handle, text: 'warm up' });
      return res.status === 200;
    }, 20_000);
  }, 120_000);

  afterAll(async () => {
    for (const s of [...gateways, kernel, ...proxies]) await s?.stop();
    await nats?.dispose();
    await pg?.stop();
    platform.stop(true);
    fake.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const [p1, p2] = [() => proxies[0]?.url ?? '', () => proxies[1]?.url ?? ''];

  test('50 concurrent calls at a budget edge, spread over both proxies, overspend by at most the calls in flight', async () => {
    const { key } = await (await post(`${p1()}/api/keys`, { user: 'kim' }, admin)).json();
    const perCall = (20 * 2.5 + 40 * 10) / 1e6;
    const budget = perCall * 10.5;
    const put = await fetch(`${p2()}/api/quotas/kim`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...admin },
      body: JSON.stringify({ dailyUsd: budget }),
    });
    expect(put.status).toBe(200);
    const call = { ...openaiCall(), max_tokens: 40 };
    const statuses = await Promise.all(
      Array.from(
        { length: 50 },
        async (_, i) => (await post(`${i % 2 ? p2() : p1()}/v1/chat/completions`, call, bearer(key))).status,
      ),
    );
    const ok = statuses.filter((s) => s === 200).length;
    // Each proxy alone would let 10 through: together they still may not.
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBeLessThanOrEqual(10);
    expect(statuses.filter((s) => s === 429).length).toBe(50 - ok);
    // Either replica sees every replica's rows (the other's are written a few milliseconds behind its answers).
    for (const url of [p1(), p2()]) {
      const usage = await eventually(async () => {
        const u = await (await fetch(`${url}/api/usage?groupBy=user&user=kim`, { headers: admin })).json();
        // Answers give micro-dollars.
        return Math.abs((u.rows[0]?.costUsd ?? 0) - ok * perCall) < 1e-6 ? u : undefined;
      });
      expect(usage.rows).toEqual([
        expect.objectContaining({ user: 'kim', calls: ok, refusedCalls: 50 - ok }),
      ]);
      expect(usage.rows[0].costUsd).toBeLessThanOrEqual(budget + 1e-6);
    }
    // Each reservation is released just behind its response: nothing stays held.
    await eventually(async () => {
      const quota = await (await fetch(`${p1()}/api/quotas/kim`, { headers: admin })).json();
      return quota.reservedUsd === 0;
    });
  }, 60_000);

  test('a key revoked on one proxy is refused by the other within a second; a quota set on one binds the other', async () => {
    const created = await (await post(`${p1()}/api/keys`, { user: 'rex' }, admin)).json();
    // Known (and cached) by the second proxy first.
    expect((await post(`${p2()}/v1/chat/completions`, openaiCall(), bearer(created.key))).status).toBe(200);
    const revoked = await fetch(`${p1()}/api/keys/${created.id}`, { method: 'DELETE', headers: admin });
    expect(revoked.status).toBe(204);
    const started = performance.now();
    await eventually(
      async () =>
        (await post(`${p2()}/v1/chat/completions`, openaiCall(), bearer(created.key))).status === 401,
      1000,
    );
    expect(performance.now() - started).toBeLessThan(1000);

    const { key } = await (await post(`${p2()}/api/keys`, { user: 'sue' }, admin)).json();
    expect((await post(`${p2()}/v1/chat/completions`, openaiCall(), bearer(key))).status).toBe(200);
    await fetch(`${p1()}/api/quotas/sue`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...admin },
      body: JSON.stringify({ requestsPerMinute: 1 }),
    });
    await eventually(
      async () => (await post(`${p2()}/v1/chat/completions`, openaiCall(), bearer(key))).status === 429,
      1000,
    );
  }, 30_000);

  test('either gateway dispatches; each gateway sees every event once', async () => {
    const [g1, g2] = gateways.map((g) => g.url);
    const streams = await Promise.all([g1, g2].map((url) => sseClient(`${url}/api/events`)));
    for (const url of [g1, g2]) {
      const res = await post(`${url}/api/message`, { handle, text: `from ${url}` });
      expect(res.status).toBe(200);
      const { taskId } = await res.json();
      for (const sse of streams) {
        await sse.waitFor((e) => e.event === 'task.completed' && e.data.includes(taskId), 10_000);
        await Bun.sleep(200);
        const seen = sse.events.filter((e) => e.event === 'task.completed' && e.data.includes(taskId));
        expect(seen).toHaveLength(1);
      }
    }
    for (const sse of streams) sse.close();
  }, 60_000);

  test('a gateway killed with SIGKILL during async dispatches: every task completes, readable from the other', async () => {
    const [first, second] = gateways;
    if (!first || !second) throw new Error('two gateways');
    // A slow provider, so the kernel is surely still at work on them when their gateway dies.
    fake.options.latencyMs = 1500;
    const accepted = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const res = await post(`${first.url}/api/message`, { handle, text: `async ${i}`, async: true });
        expect(res.status).toBe(202);
        return (await res.json()).taskId as string;
      }),
    );
    const before = await Promise.all(
      accepted.map(async (id) => (await (await fetch(`${first.url}/api/tasks/${id}`)).json()).status),
    );
    await first.kill();
    expect(before.filter((s) => s === 'running').length).toBeGreaterThan(0);
    const settled = await eventually(async () => {
      const tasks = await Promise.all(
        accepted.map(async (id) => (await (await fetch(`${second.url}/api/tasks/${id}`)).json()).status),
      );
      return tasks.every((s) => s === 'completed') ? tasks : undefined;
    }, 30_000);
    expect(settled).toHaveLength(10);
    fake.options.latencyMs = 300;
    gateways[0] = await ready('gateway', gatewayEnv(1));
    // The restarted gateway reads them too (from the shared database).
    for (const id of accepted)
      expect((await (await fetch(`${gateways[0]?.url}/api/tasks/${id}`)).json()).status).toBe('completed');
  }, 90_000);

  test('PostgreSQL stopped: readiness says so, a budgeted call is refused 503 (never let through), rows wait and are written once it is back', async () => {
    const { key: free } = await (await post(`${p1()}/api/keys`, { user: 'una' }, admin)).json();
    const { key: capped } = await (await post(`${p1()}/api/keys`, { user: 'vic' }, admin)).json();
    await fetch(`${p1()}/api/quotas/vic`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...admin },
      body: JSON.stringify({ dailyUsd: 10 }),
    });
    // Both keys known (cached) before the database goes.
    for (const key of [free, capped])
      expect((await post(`${p1()}/v1/chat/completions`, openaiCall(), bearer(key))).status).toBe(200);
    pg.stopServer('immediate');
    try {
      const ready = await fetch(`${p1()}/health/ready`);
      expect(ready.status).toBe(503);
      expect(JSON.stringify(await ready.json())).toContain('database');
      const refused = await post(`${p1()}/v1/chat/completions`, openaiCall(), bearer(capped));
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect(JSON.stringify(await refused.json())).not.toContain('127.0.0.1');
      // No budget to check: the cached key passes, its usage row waits in memory.
      const unbudgeted = await post(`${p1()}/v1/chat/completions`, openaiCall(), bearer(free));
      expect(unbudgeted.status).toBe(200);
      expect((await fetch(`${gateways[1]?.url}/health/ready`)).status).toBe(503);
    } finally {
      pg.startServer();
    }
    await eventually(async () => (await fetch(`${p1()}/health/ready`)).ok, 20_000);
    const usage = await eventually(async () => {
      const res = await fetch(`${p2()}/api/usage?groupBy=user&user=una`, { headers: admin });
      const body = res.ok ? await res.json() : undefined;
      return body?.rows?.[0]?.calls === 2 ? body : undefined;
    }, 20_000);
    // The call made while the database was away is not lost.
    expect(usage.rows[0]).toMatchObject({ user: 'una', calls: 2 });
  }, 60_000);
});
