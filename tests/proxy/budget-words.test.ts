/**
 * Budgets that explain themselves: a 429 says what the call would reserve and why, what is left and when the
 * window starts again; the reservation of a call without max_tokens is a default the operator sets (per quota,
 * or BEACON_DEFAULT_MAX_TOKENS); usage counts served and refused calls apart, in micro-dollars.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { buildProxy, openaiCall, type TestProxy } from '../support/proxy';

const call = (proxy: TestProxy, key: string, body: object, path = '/v1/chat/completions') =>
  proxy.post(path, body, { authorization: `Bearer ${key}` });

describe('a budget that explains itself', () => {
  let proxy: TestProxy;
  beforeAll(async () => {
    proxy = await buildProxy();
  });
  afterAll(() => proxy?.stop());

  test("a call that would reserve more than is left is refused with the reservation, its reason, what's left and the reset", async () => {
    await proxy.setQuota('dave', { dailyUsd: 0.01 });
    const key = await proxy.keyFor('dave');
    // gpt-4o at $10 per million output tokens: 4,096 of them reserve $0.041 of a $0.01 budget.
    const res = await call(proxy, key, openaiCall('gpt-4o'));
    expect(res.status).toBe(429);
    const { error } = await res.json();
    expect(error.message).toContain('dave has spent $0.000000 of a $0.01 daily budget');
    expect(error.message).toContain('This call would reserve $0.04');
    expect(error.message).toContain(
      "up to 4096 output tokens (the default for a call without max_completion_tokens or max_tokens (BEACON_DEFAULT_MAX_TOKENS); send max_completion_tokens or max_tokens, or set defaultMaxTokens on the user's quota)",
    );
    expect(error.message).toContain('$0.010000 is left');
    const tomorrow = new Date(
      Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 1),
    );
    expect(error.message).toContain(`starts again at ${tomorrow.toISOString()}`);
    expect(error.budget).toMatchObject({
      window: 'daily',
      limitUsd: 0.01,
      spentUsd: 0,
      leftUsd: 0.01,
      outputTokens: 4096,
      outputTokensFrom: 'default',
      resetsAt: tomorrow.toISOString(),
    });
    expect(error.budget.callReservesUsd).toBeGreaterThan(0.04);

    // Its own max_tokens: named as such.
    const own = await (await call(proxy, key, { ...openaiCall('gpt-4o'), max_tokens: 2000 })).json();
    expect(own.error.message).toContain(
      'up to 2000 output tokens (its own limit, max_completion_tokens or max_tokens)',
    );
    expect(own.error.budget.outputTokensFrom).toBe('request');

    // The quota's own default for calls that say nothing: the same call now fits.
    await proxy.setQuota('dave', { dailyUsd: 0.01, defaultMaxTokens: 500 });
    expect((await call(proxy, key, openaiCall('gpt-4o'))).status).toBe(200);
    const quota = await (await proxy.app.request('/api/quotas/dave')).json();
    expect(quota.defaultMaxTokens).toBe(500);
    expect(String(quota.spentTodayUsd).replace(/^0\./, '').length).toBeLessThanOrEqual(6);
  });

  test('usage counts served and refused calls apart, in micro-dollars', async () => {
    const res = await proxy.app.request('/api/usage?user=dave&groupBy=user');
    const { rows } = await res.json();
    expect(rows).toEqual([expect.objectContaining({ user: 'dave', calls: 1, refusedCalls: 2 })]);
    expect(rows[0].costUsd).toBe(Math.round(rows[0].costUsd * 1e6) / 1e6);
    expect(rows[0].costUsd).toBeGreaterThan(0);
  });
});

describe('BEACON_DEFAULT_MAX_TOKENS', () => {
  let proxy: TestProxy;
  beforeAll(async () => {
    proxy = await buildProxy({}, { env: { BEACON_DEFAULT_MAX_TOKENS: '300' } });
  });
  afterAll(() => proxy?.stop());

  test("is what a call without max_tokens reserves, the Responses API's too; a quota's own wins", async () => {
    await proxy.setQuota('erin', { dailyUsd: 0.001 });
    const key = await proxy.keyFor('erin');
    // 300 output tokens of gpt-4o: $0.003, over a $0.001 budget, and said so.
    const chat = await (await call(proxy, key, openaiCall('gpt-4o'))).json();
    expect(chat.error.budget).toMatchObject({ outputTokens: 300, outputTokensFrom: 'default' });
    const responses = await (
      await call(proxy, key, { model: 'gpt-4o', input: 'hello' }, '/v1/responses')
    ).json();
    expect(responses.error.budget).toMatchObject({ outputTokens: 300, outputTokensFrom: 'default' });
    expect(responses.error.message).toContain('for a call without max_output_tokens');
    await proxy.setQuota('erin', { dailyUsd: 0.001, defaultMaxTokens: 50 });
    expect((await call(proxy, key, openaiCall('gpt-4o'))).status).toBe(200);
  });
});
