import { afterEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FakeUpstream, startFakeUpstream } from '../support/fake-upstream';
import { buildProxy, type TestProxy } from '../support/proxy';
import { eventually } from '../support/wait';

let proxy: TestProxy;
let others: FakeUpstream[] = [];
let dir = '';
afterEach(async () => {
  await proxy?.stop();
  for (const o of others) o.stop();
  others = [];
  if (dir) rmSync(dir, { recursive: true, force: true });
  delete process.env.BEACON_TEST_KEY_B;
});

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const responsesCall = (fields: Record<string, unknown> = {}) => ({
  model: 'gpt-4o-mini',
  input: 'hello',
  ...fields,
});
/** gpt-4o-mini at the catalogue's rates: $0.15 in, $0.075 cached, $0.6 out per million. */
const miniCost = (u: { input: number; cacheRead: number; output: number }) =>
  (u.input * 0.15 + u.cacheRead * 0.075 + u.output * 0.6) / 1e6;

/** A routing table file (BEACON_ROUTES_FILE) in a fresh directory. */
function routesFile(table: unknown) {
  dir = mkdtempSync(join(tmpdir(), 'beacon-routes-'));
  const file = join(dir, 'routes.json');
  writeFileSync(file, JSON.stringify(table));
  return file;
}

describe('the Responses API through the proxy', () => {
  test('20 concurrent calls at a budget edge overspend no more than chat calls do', async () => {
    const usage = { input: 20, output: 40, cacheRead: 0, cacheWrite: 0 };
    proxy = await buildProxy({ latencyMs: 30, usage });
    const key = await proxy.keyFor('kai');
    const perCall = miniCost(usage);
    const budget = perCall * 5.5;
    await proxy.setQuota('kai', { dailyUsd: budget });
    // max_output_tokens bounds each reservation close to the real cost, as max_tokens does for chat.
    const statuses = await Promise.all(
      Array.from(
        { length: 20 },
        async () =>
          (await proxy.post('/v1/responses', responsesCall({ max_output_tokens: 40 }), bearer(key))).status,
      ),
    );
    const ok = statuses.filter((s) => s === 200).length;
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20 - ok);
    const spent = (await proxy.rows()).reduce((a, r) => a + r.costUsd, 0);
    expect(spent).toBeLessThanOrEqual(budget + 1e-12);
    const quota = await eventually(async () => {
      const q = await (await proxy.app.request('/api/quotas/kai')).json();
      return q.reservedUsd === 0 ? q : undefined;
    });
    expect(quota.spentTodayUsd).toBeCloseTo(spent, 12);
  });

  test('a call without max_output_tokens reserves the model’s own limit, not 4,096 tokens', async () => {
    proxy = await buildProxy();
    const key = await proxy.keyFor('lin');
    // gpt-4o-mini's context window (128,000 tokens) of output at $0.6 per million is $0.0768.
    await proxy.setQuota('lin', { dailyUsd: 0.05 });
    const refused = await proxy.post('/v1/responses', responsesCall(), bearer(key));
    expect(refused.status).toBe(429);
    expect(
      (await proxy.post('/v1/responses', responsesCall({ max_output_tokens: 1000 }), bearer(key))).status,
    ).toBe(200);
  });

  for (const end of ['incomplete', 'failed'] as const)
    test(`a stream that ends ${end} is recorded so, with the usage it reported`, async () => {
      const usage = { input: 50, output: 10, cacheRead: 0, cacheWrite: 0 };
      proxy = await buildProxy({ responseEnd: end, usage });
      const key = await proxy.keyFor('mia');
      const res = await proxy.post('/v1/responses', responsesCall({ stream: true }), bearer(key));
      expect(await res.text()).toContain(`event: response.${end}`);
      const [row] = await proxy.rows();
      expect(row).toMatchObject({ status: end, inputTokens: 50, outputTokens: 10 });
      expect(row?.costUsd).toBeCloseTo(miniCost(usage), 12);
    });

  test('count_tokens needs a key and is not charged; models and prices say what is served', async () => {
    proxy = await buildProxy();
    const key = await proxy.keyFor('ned');
    const body = { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }] };
    expect((await proxy.post('/v1/messages/count_tokens', body)).status).toBe(401);
    const counted = await proxy.post('/v1/messages/count_tokens', body, { 'x-api-key': key });
    expect(await counted.json()).toEqual({ input_tokens: 120 });
    expect(await proxy.rows()).toHaveLength(0);

    const models = await (await proxy.app.request('/v1/models', { headers: bearer(key) })).json();
    const ids = models.data.map((m: { id: string }) => m.id);
    expect(ids).toContain('gpt-4o-mini');
    expect(ids).toContain('claude-sonnet-4-5');
    const price = await (await proxy.app.request('/api/prices?model=gpt-4o-mini-2024-07-18')).json();
    expect(price).toMatchObject({
      priced: true,
      usdPerMillionTokens: {
        name: 'gpt-4o-mini',
        source: 'catalogue',
        input: 0.15,
        output: 0.6,
        cacheRead: 0.075,
      },
    });
    expect((await proxy.app.request('/api/prices')).status).toBe(400);
  });
});

describe('upstreams by model (BEACON_ROUTES_FILE)', () => {
  test('a failing key is rested and the next upstream answers; the call is charged once', async () => {
    const failing = startFakeUpstream({ failWith: 503 });
    const healthy = startFakeUpstream();
    const local = startFakeUpstream();
    others = [failing, healthy, local];
    const file = routesFile({
      upstreams: {
        primary: { kind: 'openai', baseUrl: `${failing.url}/v1`, keys: ['sk-a', 'env:BEACON_TEST_KEY_B'] },
        backup: { kind: 'openai', baseUrl: `${healthy.url}/v1`, keys: ['sk-c'] },
        vllm: { kind: 'openai', baseUrl: `${local.url}/v1` },
      },
      routes: [
        { model: 'llama-*', upstreams: ['vllm'] },
        { model: 'gpt-*', upstreams: ['primary', 'backup'] },
      ],
    });
    process.env.BEACON_TEST_KEY_B = 'sk-b';
    proxy = await buildProxy({}, { env: { BEACON_ROUTES_FILE: file } });
    const key = await proxy.keyFor('ola');
    const res = await proxy.post('/v1/responses', responsesCall(), bearer(key));
    expect(res.status).toBe(200);
    // Both of primary's keys were tried (one call each), then backup answered.
    expect(failing.calls.map((c) => c.headers.authorization).sort()).toEqual(['Bearer sk-a', 'Bearer sk-b']);
    expect(healthy.calls.map((c) => c.headers.authorization)).toEqual(['Bearer sk-c']);
    const rows = await proxy.rows();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.status).toBe('ok');
    expect(await proxy.metrics()).toContain('proxy_upstream_failovers_total{upstream="primary"} 2');
    // Rested: the next call goes straight to backup.
    expect((await proxy.post('/v1/responses', responsesCall(), bearer(key))).status).toBe(200);
    expect(failing.calls).toHaveLength(2);

    // Any OpenAI-compatible server by model name, without a key; a model no route serves is a 404.
    const llama = await proxy.post(
      '/v1/chat/completions',
      { model: 'llama-3-8b', messages: [] },
      bearer(key),
    );
    expect(llama.status).toBe(200);
    expect(local.calls[0]?.headers.authorization).toBeUndefined();
    const unrouted = await proxy.post(
      '/v1/chat/completions',
      { model: 'mistral-large', messages: [] },
      bearer(key),
    );
    expect(unrouted.status).toBe(404);
    expect((await unrouted.json()).error.message).toContain('no upstream serves model mistral-large');
  });

  test('a routing file that names an unknown upstream stops the proxy at start, naming it', async () => {
    const file = routesFile({ upstreams: {}, routes: [{ model: '*', upstreams: ['nowhere'] }] });
    await expect(buildProxy({}, { env: { BEACON_ROUTES_FILE: file } })).rejects.toThrow(
      'no upstream named nowhere',
    );
  });
});
