import { createLogger } from '@beacon/core';
import { Registry } from 'prom-client';
import { createApp } from '../../packages/proxy/src/app';
import { loadConfig } from '../../packages/proxy/src/config';
import { openDatabase } from '../../packages/proxy/src/db';
import { usage } from '../../packages/proxy/src/db/schema/usage';
import { createDeps } from '../../packages/proxy/src/deps';
import { type FakeUpstreamOptions, startFakeUpstream } from './fake-upstream';

/** A proxy app on an in-memory database, pointed at a fresh fake upstream for both providers. */
export function buildProxy(
  fakeOptions: FakeUpstreamOptions = {},
  extra: { upstreamTimeoutMs?: number; maxMetricUsers?: number } = {},
) {
  const fake = startFakeUpstream(fakeOptions);
  const registry = new Registry();
  const db = openDatabase(':memory:');
  const log = createLogger({ service: 'proxy', level: 'silent' });
  const config = loadConfig({
    BEACON_UPSTREAM_OPENAI_URL: fake.url,
    BEACON_UPSTREAM_OPENAI_KEY: 'sk-upstream-openai',
    BEACON_UPSTREAM_ANTHROPIC_URL: fake.url,
    BEACON_UPSTREAM_ANTHROPIC_KEY: 'sk-upstream-anthropic',
    ...(extra.upstreamTimeoutMs ? { BEACON_UPSTREAM_TIMEOUT: String(extra.upstreamTimeoutMs / 1000) } : {}),
    ...(extra.maxMetricUsers ? { BEACON_METRICS_MAX_USERS: String(extra.maxMetricUsers) } : {}),
  });
  // The same parts main.ts builds, on an in-memory database.
  const services = createDeps(config, { log, registry, db });
  const app = createApp({ identity: { name: 'proxy', version: 'test' }, registry, log, services });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  return {
    app,
    fake,
    db,
    registry,
    post,
    rows: () => {
      services.usage.flush();
      return db.select().from(usage).all();
    },
    metrics: () => registry.metrics(),
    /** PUT /api/quotas/:user with the given limits. */
    async setQuota(
      user: string,
      limits: { dailyUsd?: number; monthlyUsd?: number; requestsPerMinute?: number },
    ) {
      const res = await app.request(`/api/quotas/${user}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(limits),
      });
      if (res.status !== 200) throw new Error(`quota for ${user}: ${res.status}`);
    },
    async keyFor(user: string, handle?: string): Promise<string> {
      const res = await post('/api/keys', { user, ...(handle ? { handle } : {}) });
      return (await res.json()).key;
    },
    stop: () => fake.stop(),
  };
}

export type TestProxy = ReturnType<typeof buildProxy>;

export const openaiCall = (model = 'gpt-4o', stream = false) => ({
  model,
  stream,
  messages: [{ role: 'user', content: 'hello' }],
});

export const anthropicCall = (model = 'claude-sonnet-4-5', stream = false) => ({
  model,
  stream,
  max_tokens: 256,
  messages: [{ role: 'user', content: 'hello' }],
});
