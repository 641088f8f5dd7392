import { createLogger } from '@beacon/core';
import { Registry } from 'prom-client';
import { loadConfig } from '../../packages/proxy/src/config';
import { openDatabase } from '../../packages/proxy/src/db';
import { createDeps } from '../../packages/proxy/src/deps';
import type { UsageInsert } from '../../packages/proxy/src/usage-store';
import { type FakeUpstreamOptions, startFakeUpstream } from './fake-upstream';

/** A usage row as the proxy writes one (an `ok` call), to put a store in a given state. */
export const usageRow = (fields: Partial<UsageInsert> = {}): UsageInsert => ({
  at: new Date(),
  user: 'uma',
  handle: null,
  keyId: null,
  provider: 'openai',
  model: 'gpt-4o',
  stream: false,
  inputTokens: 1,
  outputTokens: 2,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  costUsd: 0.001,
  status: 'ok',
  httpStatus: 200,
  durationMs: 3,
  traceId: '0123456789abcdef0123456789abcdef',
  ...fields,
});

/**
 * A proxy app, started, on an in-memory SQLite database (or the PostgreSQL database at `databaseUrl`),
 * pointed at a fresh fake upstream for both providers.
 */
export async function buildProxy(
  fakeOptions: FakeUpstreamOptions = {},
  extra: {
    upstreamTimeoutMs?: number;
    maxMetricUsers?: number;
    databaseUrl?: string;
    /** More of the proxy's env (BEACON_ROUTES_FILE, BEACON_PRICES_FILE). */
    env?: Record<string, string>;
  } = {},
) {
  const fake = startFakeUpstream(fakeOptions);
  const registry = new Registry();
  const store = openDatabase(':memory:', extra.databaseUrl);
  const log = createLogger({ service: 'proxy', level: 'silent' });
  const config = loadConfig({
    BEACON_UPSTREAM_OPENAI_URL: fake.url,
    BEACON_UPSTREAM_OPENAI_KEY: 'sk-upstream-openai',
    BEACON_UPSTREAM_ANTHROPIC_URL: fake.url,
    BEACON_UPSTREAM_ANTHROPIC_KEY: 'sk-upstream-anthropic',
    ...(extra.upstreamTimeoutMs ? { BEACON_UPSTREAM_TIMEOUT: String(extra.upstreamTimeoutMs / 1000) } : {}),
    ...(extra.maxMetricUsers ? { BEACON_METRICS_MAX_USERS: String(extra.maxMetricUsers) } : {}),
    ...extra.env,
  });
  // The same parts main.ts builds.
  const proxy = createDeps(
    config,
    { identity: { name: 'proxy', version: 'test' }, log, registry },
    { store },
  );
  await proxy.start();
  const { app, parts: services } = proxy;
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  return {
    app,
    fake,
    store,
    services,
    registry,
    post,
    /** The usage table, in the order rows were first written. */
    rows: async () => {
      await services.usage.flush();
      return store.db.select().from(store.t.usage).orderBy(store.t.usage.id);
    },
    metrics: () => registry.metrics(),
    /** PUT /api/quotas/:user with the given limits. */
    async setQuota(
      user: string,
      limits: {
        dailyUsd?: number;
        monthlyUsd?: number;
        requestsPerMinute?: number;
        defaultMaxTokens?: number;
      },
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
    async stop() {
      fake.stop();
      for (const step of proxy.stop.steps) await step();
    },
  };
}

export type TestProxy = Awaited<ReturnType<typeof buildProxy>>;

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
