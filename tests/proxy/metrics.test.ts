import { afterEach, describe, expect, test } from 'bun:test';
import { loadConfig } from '../../packages/proxy/src/config';
import { openDatabase } from '../../packages/proxy/src/db';
import { createDeps } from '../../packages/proxy/src/deps';
import { anthropicCall, buildProxy, openaiCall, type TestProxy } from '../support/proxy';
import { describeServiceMetrics, quietLog } from '../support/service-metrics';

describeServiceMetrics({
  service: 'proxy',
  ownMetric: 'proxy_api_calls_total',
  foreignMetrics: ['gateway_', 'platform_'],
  build: (registry, identity) =>
    createDeps(loadConfig({}), { identity, log: quietLog, registry }, { store: openDatabase(':memory:') })
      .app,
});

describe('proxy call metrics', () => {
  let proxy: TestProxy;
  afterEach(() => proxy?.stop());

  test('the call counter moves per proxied request and cost accumulates per user and model', async () => {
    proxy = await buildProxy();
    const alice = await proxy.keyFor('alice');
    const bob = await proxy.keyFor('bob');
    await proxy.post('/v1/chat/completions', openaiCall(), { authorization: `Bearer ${alice}` });
    await proxy.post('/v1/chat/completions', openaiCall(), { authorization: `Bearer ${alice}` });
    await proxy.post('/v1/messages', anthropicCall(), { 'x-api-key': bob });
    const text = await proxy.metrics();
    expect(text).toContain(
      'proxy_api_calls_total{user="alice",model="gpt-4o",provider="openai",status="ok"} 2',
    );
    expect(text).toContain(
      'proxy_api_calls_total{user="bob",model="claude-sonnet-4-5",provider="anthropic",status="ok"} 1',
    );
    const cost = Number(
      text.match(/proxy_api_cost_usd_total\{user="alice",model="gpt-4o"\} ([\d.e-]+)/)?.[1],
    );
    expect(cost).toBeCloseTo((2 * (120 * 2.5 + 40 * 10 + 30 * 1.25)) / 1e6, 12);
    expect(text).toContain('proxy_api_tokens_total{user="alice",model="gpt-4o",direction="cache_read"} 60');
    expect(text).toContain(
      'proxy_api_tokens_total{user="bob",model="claude-sonnet-4-5",direction="cache_write"} 10',
    );
    expect(text).toMatch(/proxy_upstream_duration_seconds_count\{provider="openai",model="gpt-4o"\} 2/);
  });

  test('the quota rejection counter moves on 429, and utilization is reported', async () => {
    proxy = await buildProxy();
    const key = await proxy.keyFor('carol');
    await proxy.setQuota('carol', { dailyUsd: 0.01, monthlyUsd: 1 });
    const small = { ...openaiCall(), max_tokens: 50 };
    expect((await proxy.post('/v1/chat/completions', small, { authorization: `Bearer ${key}` })).status).toBe(
      200,
    );
    await proxy.setQuota('carol', { dailyUsd: 0 });
    const res = await proxy.post('/v1/chat/completions', openaiCall(), { authorization: `Bearer ${key}` });
    expect(res.status).toBe(429);
    const text = await proxy.metrics();
    expect(text).toContain('proxy_quota_rejections_total{user="carol"} 1');
    expect(text).toContain(
      'proxy_api_calls_total{user="carol",model="gpt-4o",provider="openai",status="rejected"} 1',
    );
    expect(text).toMatch(/proxy_quota_utilization_ratio\{user="carol",window="day"\} 0\.07/);
  });

  test('the user label is capped: users past the limit are counted as _other', async () => {
    proxy = await buildProxy({}, { maxMetricUsers: 2 });
    for (const user of ['u1', 'u2', 'u3', 'u4']) {
      const key = await proxy.keyFor(user);
      await proxy.post('/v1/chat/completions', openaiCall(), { authorization: `Bearer ${key}` });
    }
    const text = await proxy.metrics();
    expect(text).toContain(
      'proxy_api_calls_total{user="_other",model="gpt-4o",provider="openai",status="ok"} 2',
    );
    expect(text).not.toContain('user="u3"');
    expect((await proxy.rows()).map((r) => r.user)).toEqual(['u1', 'u2', 'u3', 'u4']);
  });
});
