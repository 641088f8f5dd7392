import { afterEach, describe, expect, test } from 'bun:test';
import { storeDialects } from '../support/postgres';
import { anthropicCall, buildProxy, openaiCall, type TestProxy } from '../support/proxy';
import { eventually } from '../support/wait';

let proxy: TestProxy;
afterEach(() => proxy?.stop());

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

// Fake upstream default usage: 120 fresh input, 40 output, 30 cache-read, 10 cache-write tokens.
// gpt-4o: $2.5 in, $10 out, $1.25 cached per million. claude-sonnet-4-5: $3, $15, $0.3 read, $3.75 write.
const GPT4O_COST = (120 * 2.5 + 40 * 10 + 30 * 1.25) / 1e6;
const SONNET_COST = (120 * 3 + 40 * 15 + 30 * 0.3 + 10 * 3.75) / 1e6;

for (const dialect of storeDialects())
  describe.skipIf(dialect.skip)(`proxy on ${dialect.name}: forwarding and usage`, () => {
    const build = async (...[fake, extra]: Parameters<typeof buildProxy>) =>
      buildProxy(fake, { ...extra, databaseUrl: await dialect.url() });

    test('OpenAI non-streaming: forwarded with the upstream key, usage recorded as reported', async () => {
      proxy = await build();
      const key = await proxy.keyFor('alice', 'alice-box');
      const res = await proxy.post('/v1/chat/completions', openaiCall(), {
        ...bearer(key),
        'x-beacon-trace-id': 'trace-1',
      });
      expect(res.status).toBe(200);
      expect((await res.json()).choices[0].message.content).toBe('fake answer');
      const call = proxy.fake.calls[0];
      expect(call?.headers.authorization).toBe('Bearer sk-upstream-openai');
      expect(JSON.stringify(call?.headers)).not.toContain(key);
      const [row] = await proxy.rows();
      expect(row).toMatchObject({
        user: 'alice',
        handle: 'alice-box',
        provider: 'openai',
        model: 'gpt-4o',
        inputTokens: 120,
        cacheReadTokens: 30,
        outputTokens: 40,
        status: 'ok',
        traceId: 'trace-1',
        stream: false,
      });
      expect(row?.costUsd).toBeCloseTo(GPT4O_COST, 12);
    });

    test('OpenAI streaming: chunks pass through, include_usage is added, the final usage is recorded', async () => {
      proxy = await build({ chunks: 4 });
      const key = await proxy.keyFor('bob');
      const res = await proxy.post('/v1/chat/completions', openaiCall('gpt-4o-mini', true), bearer(key));
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      const text = await res.text();
      expect(text.match(/tok\d/g)).toHaveLength(4);
      expect(text).toContain('[DONE]');
      expect(proxy.fake.calls[0]?.body.stream_options).toEqual({ include_usage: true });
      const [row] = await proxy.rows();
      expect(row).toMatchObject({
        model: 'gpt-4o-mini',
        inputTokens: 120,
        cacheReadTokens: 30,
        outputTokens: 40,
        stream: true,
      });
      expect(row?.costUsd).toBeCloseTo((120 * 0.15 + 40 * 0.6 + 30 * 0.075) / 1e6, 12);
      // A W3C trace id: the call started its own trace (no traceparent came with it).
      expect(row?.traceId).toMatch(/^[0-9a-f]{32}$/);
    });

    test('Anthropic non-streaming and streaming: cache tokens counted, cumulative message_delta not summed', async () => {
      proxy = await build();
      const key = await proxy.keyFor('carol');
      const plain = await proxy.post('/v1/messages', anthropicCall(), { 'x-api-key': key });
      expect(plain.status).toBe(200);
      expect(proxy.fake.calls[0]?.headers['x-api-key']).toBe('sk-upstream-anthropic');
      expect(proxy.fake.calls[0]?.headers['anthropic-version']).toBe('2023-06-01');
      const streamed = await proxy.post('/v1/messages', anthropicCall('claude-sonnet-4-5', true), {
        'x-api-key': key,
      });
      expect(await streamed.text()).toContain('message_stop');
      const rows = await proxy.rows();
      expect(rows).toHaveLength(2);
      for (const row of rows) {
        expect(row).toMatchObject({
          inputTokens: 120,
          outputTokens: 40,
          cacheReadTokens: 30,
          cacheWriteTokens: 10,
        });
        expect(row.costUsd).toBeCloseTo(SONNET_COST, 12);
      }
    });

    test('a dated model is priced by its family; an unknown model costs 0, is labelled unknown, counted and listed as unpriced', async () => {
      proxy = await build();
      const key = await proxy.keyFor('dave');
      await proxy.post('/v1/chat/completions', openaiCall('gpt-4o-2024-08-06'), bearer(key));
      await proxy.post('/v1/chat/completions', openaiCall('mystery-model-9'), bearer(key));
      const [dated, unknown] = await proxy.rows();
      expect(dated?.costUsd).toBeCloseTo(GPT4O_COST, 12);
      expect(unknown).toMatchObject({ model: 'mystery-model-9', costUsd: 0, status: 'ok' });
      const text = await proxy.metrics();
      expect(text).toContain(
        'proxy_api_calls_total{user="dave",model="unknown",provider="openai",status="ok"} 1',
      );
      // Named only where it is counted as unpriced (capped like users), never as a model label.
      expect(text).toContain('proxy_unpriced_calls_total{model="mystery-model-9"} 1');
      expect(text.replace(/^proxy_unpriced_calls_total.*$/m, '')).not.toContain('mystery-model-9');
      const listed = await proxy.app.request('/api/prices?unpriced=true');
      expect(await listed.json()).toMatchObject({ unpriced: [{ model: 'mystery-model-9', calls: 1 }] });
    });

    test('a client that aborts mid-stream still gets its usage recorded', async () => {
      proxy = await build({ chunks: 20, chunkDelayMs: 20 });
      const key = await proxy.keyFor('erin');
      const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: proxy.app.fetch });
      try {
        const controller = new AbortController();
        const res = await fetch(`http://127.0.0.1:${server.port}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...bearer(key) },
          body: JSON.stringify(openaiCall('gpt-4o', true)),
          signal: controller.signal,
        });
        const reader = res.body?.getReader();
        await reader?.read();
        controller.abort();
        // The call's row is written `pending` before the upstream call, then settled.
        for (let i = 0; i < 100 && (await proxy.rows())[0]?.status === 'pending'; i++) await Bun.sleep(20);
        const [row] = await proxy.rows();
        expect(row).toMatchObject({
          user: 'erin',
          status: 'client_closed',
          inputTokens: 120,
          outputTokens: 40,
        });
        expect(row?.costUsd).toBeCloseTo(GPT4O_COST, 12);
      } finally {
        server.stop(true);
      }
    });

    test('upstream 5xx → 502 in the provider format, recorded and counted', async () => {
      proxy = await build({ failWith: 500 });
      const key = await proxy.keyFor('frank');
      const openai = await proxy.post('/v1/chat/completions', openaiCall(), bearer(key));
      expect(openai.status).toBe(502);
      expect((await openai.json()).error.type).toBe('upstream_error');
      const anthropic = await proxy.post('/v1/messages', anthropicCall(), { 'x-api-key': key });
      expect(anthropic.status).toBe(502);
      expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'api_error' } });
      expect((await proxy.rows()).map((r) => r.status)).toEqual(['upstream_error', 'upstream_error']);
      expect(await proxy.metrics()).toContain(
        'proxy_upstream_errors_total{provider="openai",kind="http_500"} 1',
      );
    });

    test('upstream timeout → 504 in the provider format', async () => {
      proxy = await build({ hang: true }, { upstreamTimeoutMs: 200 });
      const key = await proxy.keyFor('gina');
      const res = await proxy.post('/v1/messages', anthropicCall(), { 'x-api-key': key });
      expect(res.status).toBe(504);
      expect((await res.json()).error.type).toBe('timeout_error');
      expect((await proxy.rows())[0]?.status).toBe('timeout');
      expect(await proxy.metrics()).toContain(
        'proxy_upstream_errors_total{provider="anthropic",kind="timeout"} 1',
      );
    });

    test('bad JSON → 400; no key, an unknown key or a revoked key → 401, in the provider format', async () => {
      proxy = await build();
      const key = await proxy.keyFor('hank');
      const badJson = await proxy.post('/v1/chat/completions', '{not json', bearer(key));
      expect(badJson.status).toBe(400);
      expect((await badJson.json()).error.message).toContain('invalid JSON');
      const noModel = await proxy.post('/v1/messages', { messages: [] }, { 'x-api-key': key });
      expect(noModel.status).toBe(400);
      expect((await noModel.json()).error.message).toContain('body.model');
      const none = await proxy.post('/v1/chat/completions', openaiCall());
      expect(none.status).toBe(401);
      expect((await none.json()).error.type).toBe('invalid_api_key');
      const unknown = await proxy.post('/v1/messages', anthropicCall(), { 'x-api-key': 'bk_nope' });
      expect(unknown.status).toBe(401);
      expect((await unknown.json()).error.type).toBe('authentication_error');
      const list = await (await proxy.app.request('/api/keys?user=hank')).json();
      expect(list.keys[0]).not.toHaveProperty('keyHash');
      expect((await proxy.app.request(`/api/keys/${list.keys[0].id}`, { method: 'DELETE' })).status).toBe(
        204,
      );
      expect((await proxy.post('/v1/chat/completions', openaiCall(), bearer(key))).status).toBe(401);
      expect(proxy.fake.calls).toHaveLength(0);
    });

    test('over quota → 429 in the provider format with Retry-After, and no upstream call', async () => {
      proxy = await build();
      const key = await proxy.keyFor('ivy');
      await proxy.setQuota('ivy', { dailyUsd: 0.000001 });
      const res = await proxy.post('/v1/chat/completions', openaiCall(), bearer(key));
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(res.headers.get('x-should-retry')).toBe('false');
      expect((await res.json()).error.type).toBe('budget_exceeded');
      const anthropic = await proxy.post('/v1/messages', anthropicCall(), { 'x-api-key': key });
      expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'budget_exceeded' } });
      expect(proxy.fake.calls).toHaveLength(0);
      // The change is in the audit trail, on either store.
      const audit = await (await proxy.app.request('/api/audit?action=quota.set')).json();
      expect(audit.entries).toEqual([
        expect.objectContaining({ action: 'quota.set', target: 'ivy', outcome: 'ok' }),
      ]);
    });

    test('requests per minute: the call past the limit is refused', async () => {
      proxy = await build();
      const key = await proxy.keyFor('jack');
      await proxy.setQuota('jack', { requestsPerMinute: 2 });
      const statuses = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await proxy.post('/v1/chat/completions', openaiCall(), bearer(key))).status);
      expect(statuses).toEqual([200, 200, 429]);
      expect(proxy.fake.calls).toHaveLength(2);
    });

    test('requests per minute: of 6 calls at once at a limit of 4, exactly 4 go through', async () => {
      // Reserved together while the first is in flight: taken one by one once all of them do not fit.
      proxy = await build({ latencyMs: 30 });
      const key = await proxy.keyFor('jill');
      await proxy.setQuota('jill', { requestsPerMinute: 4 });
      const statuses = await Promise.all(
        Array.from(
          { length: 6 },
          async () => (await proxy.post('/v1/chat/completions', openaiCall(), bearer(key))).status,
        ),
      );
      expect(statuses.filter((s) => s === 200)).toHaveLength(4);
      expect(statuses.filter((s) => s === 429)).toHaveLength(2);
      expect(proxy.fake.calls).toHaveLength(4);
    });

    test('50 concurrent calls at a budget edge overspend by at most the calls in flight', async () => {
      // Usage within what the request allows (prompt ≤ its bytes, output ≤ max_tokens), as real providers report.
      proxy = await build({ latencyMs: 30, usage: { input: 20, output: 40, cacheRead: 0, cacheWrite: 0 } });
      const key = await proxy.keyFor('kim');
      const perCall = (20 * 2.5 + 40 * 10) / 1e6;
      const budget = perCall * 10.5;
      await proxy.setQuota('kim', { dailyUsd: budget });
      // max_tokens bounds each call's reservation close to its real cost.
      const call = { ...openaiCall(), max_tokens: 40 };
      const results: number[] = await Promise.all(
        Array.from(
          { length: 50 },
          async () => (await proxy.post('/v1/chat/completions', call, bearer(key))).status,
        ),
      );
      const ok = results.filter((s) => s === 200).length;
      // All 50 arrive before any settles: a check without reservation would let every one through.
      expect(ok).toBeGreaterThan(0);
      expect(ok).toBeLessThanOrEqual(10);
      expect(results.filter((s) => s === 429).length).toBe(50 - ok);
      const spent = (await proxy.rows()).reduce((a, r) => a + r.costUsd, 0);
      expect(spent).toBeLessThanOrEqual(budget + 1e-12);
      expect(proxy.fake.calls).toHaveLength(ok);
      // Each reservation is released just behind its response.
      const quota = await eventually(async () => {
        const q = await (await proxy.app.request('/api/quotas/kim')).json();
        return q.reservedUsd === 0 ? q : undefined;
      });
      expect(quota.spentTodayUsd).toBeCloseTo(spent, 12);
    });

    test('usage history groups by day, model, user and handle', async () => {
      proxy = await build();
      const a = await proxy.keyFor('lee', 'lee-box');
      const b = await proxy.keyFor('max');
      await proxy.post('/v1/chat/completions', openaiCall(), bearer(a));
      await proxy.post('/v1/chat/completions', openaiCall(), bearer(a));
      await proxy.post('/v1/messages', anthropicCall(), { 'x-api-key': b });
      const byUser = await (await proxy.app.request('/api/usage?groupBy=user')).json();
      expect(byUser.rows).toEqual([
        expect.objectContaining({ user: 'lee', calls: 2, inputTokens: 240 }),
        expect.objectContaining({ user: 'max', calls: 1 }),
      ]);
      expect(byUser.rows[0].costUsd).toBeCloseTo(2 * GPT4O_COST, 12);
      const byModel = await (await proxy.app.request('/api/usage?groupBy=model&user=lee')).json();
      expect(byModel.rows).toEqual([expect.objectContaining({ model: 'gpt-4o', calls: 2 })]);
      const today = new Date().toISOString().slice(0, 10);
      const byDay = await (await proxy.app.request(`/api/usage?groupBy=day&from=${today}`)).json();
      expect(byDay.rows).toEqual([expect.objectContaining({ day: today, calls: 3 })]);
      const byHandle = await (await proxy.app.request('/api/usage?groupBy=handle')).json();
      expect(byHandle.rows).toEqual([
        expect.objectContaining({ handle: null, calls: 1 }),
        expect.objectContaining({ handle: 'lee-box', calls: 2 }),
      ]);
      // Several dimensions at once: cost per container per day, per tenant (user) and container.
      const byHandleDay = await (await proxy.app.request('/api/usage?groupBy=handle,day')).json();
      expect(byHandleDay.groupBy).toBe('handle,day');
      expect(byHandleDay.rows).toEqual([
        expect.objectContaining({ handle: null, day: today, calls: 1 }),
        expect.objectContaining({ handle: 'lee-box', day: today, calls: 2 }),
      ]);
      expect((await proxy.app.request('/api/usage?groupBy=week')).status).toBe(400);
      const bad = await proxy.app.request('/api/usage?groupBy=handle,week');
      expect(bad.status).toBe(400);
      expect((await bad.json()).error.message).toBe(
        'query.groupBy: Invalid option: expected one of "day"|"model"|"user"|"handle"',
      );
      expect((await proxy.app.request('/api/usage?from=yesterday')).status).toBe(400);
    });

    test('GET /v1/models lists the priced models to a keyed caller', async () => {
      proxy = await build();
      expect((await proxy.app.request('/v1/models')).status).toBe(401);
      const key = await proxy.keyFor('nia');
      const res = await proxy.app.request('/v1/models', { headers: bearer(key) });
      const ids = (await res.json()).data.map((m: { id: string }) => m.id);
      expect(ids).toContain('gpt-4o');
      expect(ids).toContain('claude-sonnet-4-5');
    });
  });
