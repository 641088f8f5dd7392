import { Database } from 'bun:sqlite';
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@beacon/core';
import { Registry } from 'prom-client';
import { loadConfig } from '../../packages/proxy/src/config';
import { createDeps } from '../../packages/proxy/src/deps';
import { startFakeUpstream } from '../support/fake-upstream';
import { post } from '../support/http';
import { anthropicCall, buildProxy, openaiCall, usageRow } from '../support/proxy';
import { startService } from '../support/service';
import { eventually } from '../support/wait';

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('faults: the web shell', () => {
  test('a frame that is not JSON gets an error frame and is counted; the gateway keeps serving', async () => {
    const gateway = await startService('gateway', { BEACON_DATA_DIR: mkdtempSync(join(tmpdir(), 'gw-')) });
    try {
      const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}/ws?handle=alice`);
      const frames: { type: string; error?: { message: string } }[] = [];
      ws.onmessage = (e) => frames.push(JSON.parse(String(e.data)));
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      for (const bad of ['not json', '{"type":"message"', '[]', '{"type":"message","text":5}']) ws.send(bad);
      ws.send(new Uint8Array([0xff, 0x00, 0x7b]));
      await eventually(() => frames.length === 5);
      expect(frames.every((f) => f.type === 'error')).toBe(true);
      expect(frames[0]?.error?.message).toContain('frame: invalid JSON');
      expect(frames[3]?.error?.message).toContain('frame.text');
      ws.close();
      // Still serving (there is no platform here, so /health is `down`: liveness is the question).
      expect((await fetch(`${gateway.url}/health/live`)).status).toBe(200);
      expect((await fetch(`${gateway.url}/version`)).status).toBe(200);
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      expect(metrics).toContain('gateway_ws_frames_invalid_total 5');
    } finally {
      await gateway.stop();
    }
  });
});

describe('faults: money', () => {
  test('negative or absurd output limits are a 400 in the provider format, before any reservation or upstream call', async () => {
    const proxy = await buildProxy();
    try {
      const key = await proxy.keyFor('mallory');
      await proxy.setQuota('mallory', { dailyUsd: 0.002 });
      // Spend the budget: a small call passes, the next one is refused.
      const small = { ...openaiCall(), max_tokens: 10 };
      expect((await proxy.post('/v1/chat/completions', small, bearer(key))).status).toBe(200);
      expect((await proxy.post('/v1/chat/completions', openaiCall(), bearer(key))).status).toBe(429);
      const upstreamCalls = proxy.fake.calls.length;
      const attacks = [
        ['/v1/chat/completions', { ...openaiCall(), max_tokens: -1e9 }, 'max_tokens'],
        ['/v1/chat/completions', { ...openaiCall(), max_completion_tokens: -1e9 }, 'max_completion_tokens'],
        ['/v1/chat/completions', { ...openaiCall(), max_tokens: 1e12 }, 'max_tokens'],
        ['/v1/chat/completions', { ...openaiCall(), max_tokens: 1.5 }, 'max_tokens'],
        ['/v1/chat/completions', { ...openaiCall(), max_tokens: '100' }, 'max_tokens'],
        ['/v1/chat/completions', { ...openaiCall(), n: -3 }, 'n'],
        ['/v1/messages', { ...anthropicCall(), max_tokens: -1e9 }, 'max_tokens'],
      ] as const;
      const answers = await Promise.all(
        attacks.flatMap(([path, body]) =>
          Array.from({ length: 10 }, () => proxy.post(path, body, bearer(key))),
        ),
      );
      for (const [i, res] of answers.entries()) {
        const [path, , field] = attacks[Math.floor(i / 10)] ?? [];
        expect(res.status).toBe(400);
        const body = await res.json();
        expect(body.error.message).toContain(`body.${field}`);
        if (path === '/v1/messages') expect(body.type).toBe('error');
        else expect(body.error.type).toBe('invalid_request_error');
      }
      expect(proxy.fake.calls.length).toBe(upstreamCalls);
      const quota = await (await proxy.app.request('/api/quotas/mallory')).json();
      expect(quota.reservedUsd).toBe(0);
    } finally {
      proxy.stop();
    }
  });
});

describe('faults: kill -9 of the proxy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'proxy-kill-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('every call the upstream saw has a row; calls in flight are closed as interrupted and charged', async () => {
    const fake = startFakeUpstream({ latencyMs: 400 });
    const env = { BEACON_DATA_DIR: dir, BEACON_UPSTREAM_OPENAI_URL: fake.url };
    let proxy = await startService('proxy', env);
    try {
      const { key } = await (await post(`${proxy.url}/api/keys`, { user: 'kim' })).json();
      const quick = await post(`${proxy.url}/v1/chat/completions`, openaiCall(), bearer(key));
      expect(quick.status).toBe(200);
      // Its final row is written within the writer's 5 ms window; killed inside it, it would count as interrupted.
      await Bun.sleep(100);
      // 20 calls reach the upstream, then the proxy dies before it answers any of them.
      const inFlight = Array.from({ length: 20 }, () =>
        post(`${proxy.url}/v1/chat/completions`, openaiCall(), bearer(key)).catch(() => undefined),
      );
      await eventually(() => fake.calls.length === 21);
      await proxy.kill();
      await Promise.all(inFlight);
      proxy = await startService('proxy', env);
      const db = new Database(join(dir, 'proxy.sqlite'), { readonly: true });
      const rows = db.query('SELECT status, cost_usd AS cost, reserved_usd AS reserved FROM usage').all() as {
        status: string;
        cost: number;
        reserved: number | null;
      }[];
      db.close();
      expect(rows.length).toBe(fake.calls.length);
      expect(rows.filter((r) => r.status === 'ok').length).toBe(1);
      const interrupted = rows.filter((r) => r.status === 'interrupted');
      expect(interrupted.length).toBe(20);
      for (const r of interrupted) expect(r.cost).toBe(r.reserved ?? -1);
      expect(proxy.output()).toContain('proxy.calls_interrupted');
      // The budget counts what they reserved.
      const quota = await (await fetch(`${proxy.url}/api/quotas/kim`)).json();
      const charged = rows.reduce((sum, r) => sum + r.cost, 0);
      expect(Math.abs(quota.spentTodayUsd - charged)).toBeLessThanOrEqual(5.000001e-7); // answers give micro-dollars
    } finally {
      await proxy.stop();
      fake.stop();
    }
  });
});

/** The proxy's parts on `dir`, as main.ts builds them, to put its store in the state a kill leaves. */
async function proxyParts(dir: string) {
  const { parts } = createDeps(loadConfig({ BEACON_DATA_DIR: dir }), {
    identity: { name: 'proxy', version: 'test' },
    log: createLogger({ service: 'proxy', level: 'silent' }),
    registry: new Registry(),
  });
  await parts.store.ready;
  return parts;
}

describe('faults: killed between a reservation and its pending row', () => {
  test('the next start gives the reservation back (SQLite: nothing is in flight then)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'proxy-orphan-'));
    // What the store holds after a kill in that window: a reservation taken, no pending row written.
    const killed = await proxyParts(dir);
    await killed.quotas.set('lou', { dailyUsd: 1 });
    expect((await killed.quotas.reserve('lou', 'lou', 0.4, await killed.quotas.limitsOf('lou'))).ok).toBe(
      true,
    );
    expect((await killed.quotas.get('lou')).reservedUsd).toBeCloseTo(0.4, 9);
    await killed.store.close();
    const proxy = await startService('proxy', { BEACON_DATA_DIR: dir });
    try {
      const quota = await (await fetch(`${proxy.url}/api/quotas/lou`)).json();
      expect(quota).toMatchObject({ reservedUsd: 0, spentTodayUsd: 0 });
      expect(proxy.output()).toContain('proxy.reservations_released');
    } finally {
      await proxy.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('faults: killed between a settle and its final row', () => {
  test('the next start charges the call once, as its row says (SQLite)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'proxy-settled-'));
    // A call reserved 0.4 and wrote its pending row; it ended costing 0.1 and its settle was committed, but
    // the kill came before its final row (written up to 5 ms later).
    const killed = await proxyParts(dir);
    await killed.quotas.set('mo', { dailyUsd: 1 });
    const reservation = await killed.quotas.reserve('mo', 'mo', 0.4, await killed.quotas.limitsOf('mo'));
    if (!reservation.ok) throw new Error('not reserved');
    await killed.usage.begin(
      usageRow({
        user: 'mo',
        status: 'pending',
        costUsd: 0,
        inputTokens: 0,
        outputTokens: 0,
        reservedUsd: 0.4,
      }),
    );
    reservation.settle(0.1);
    await eventually(async () => (await killed.quotas.get('mo')).spentTodayUsd > 0);
    expect(await killed.quotas.get('mo')).toMatchObject({ reservedUsd: 0, spentTodayUsd: 0.1 });
    await killed.store.close();
    const proxy = await startService('proxy', { BEACON_DATA_DIR: dir });
    try {
      // The row is closed as interrupted, charged its reservation; the budget counts that, not 0.1 + 0.4.
      const quota = await (await fetch(`${proxy.url}/api/quotas/mo`)).json();
      expect(quota.reservedUsd).toBe(0);
      expect(quota.spentTodayUsd).toBeCloseTo(0.4, 9);
      expect(proxy.output()).toContain('proxy.calls_interrupted');
      expect(proxy.output()).not.toContain('proxy.reservations_released');
    } finally {
      await proxy.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('faults: stopping and starting', () => {
  test('SIGTERM with an event stream open: the platform closes it and stops at once', async () => {
    const platform = await startService('platform', {
      BEACON_DATA_DIR: mkdtempSync(join(tmpdir(), 'pf-')),
      BEACON_INSTANCE: `sigterm-${Math.random().toString(36).slice(2, 7)}`,
    });
    const stream = await fetch(`${platform.url}/api/events`);
    expect(stream.status).toBe(200);
    const reading = stream.body?.getReader().read();
    const started = performance.now();
    await platform.stop();
    expect(performance.now() - started).toBeLessThan(3000);
    await reading;
  });

  test('a service that cannot listen exits non-zero at once, before its loops start', async () => {
    const taken = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('taken') });
    try {
      const started = performance.now();
      const proc = Bun.spawn(['bun', 'packages/platform/src/main.ts'], {
        env: {
          ...Bun.env,
          BEACON_PORT: String(taken.port),
          BEACON_DATA_DIR: mkdtempSync(join(tmpdir(), 'pf-')),
        },
        stdout: 'pipe',
        stderr: 'pipe',
      });
      const code = await proc.exited;
      const output = (await new Response(proc.stdout).text()) + (await new Response(proc.stderr).text());
      expect(code).toBe(1);
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(output).toContain('service.listen_failed');
      expect(output).not.toContain('docker.events_connected');
    } finally {
      taken.stop(true);
    }
  });
});
