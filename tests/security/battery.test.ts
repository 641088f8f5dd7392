import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasDocker } from '../support/deps';
import { startFakeUpstream } from '../support/fake-upstream';
import { type RunningService, startService } from '../support/service';

/**
 * Hostile input over every route of every service, against the real processes: bad JSON, wrong types,
 * huge bodies, traversal, bad handles, negative and NaN numbers, bad dates, wrong content types and every
 * token placement. Each answer: no 5xx, the one error shape, the field and the rule named, and no address,
 * path or stack in the body.
 */
const available = await hasDocker();
const ADMIN = 'battery-admin-token-0123456789';
const API = 'battery-api-token-0123456789';

type Service = 'platform' | 'proxy' | 'gateway';
type Auth = 'admin' | 'api' | 'none' | 'wrong' | 'basic' | 'query' | 'key';
interface Case {
  service: Service;
  method: string;
  path: string;
  body?: unknown;
  status: number;
  says: string;
  auth?: Auth;
  contentType?: string;
}

const huge = 'x'.repeat(2 * 1024 * 1024);
const cases: Case[] = [
  // platform
  {
    service: 'platform',
    method: 'POST',
    path: '/api/containers',
    body: '{nope',
    status: 400,
    says: 'body: invalid JSON',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/containers',
    body: {},
    status: 400,
    says: 'body.handle',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/containers',
    body: { handle: 'Bad_Handle' },
    status: 400,
    says: 'body.handle: must match',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/containers',
    body: { handle: 'platform' },
    status: 400,
    says: 'body.handle: is reserved',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/containers',
    body: { handle: '../../etc/passwd' },
    status: 400,
    says: 'body.handle',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/containers',
    body: { handle: 'bat-a', memoryMb: -1 },
    status: 400,
    says: 'body.memoryMb',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/containers',
    body: { handle: 'bat-a', memoryMb: 'NaN' },
    status: 400,
    says: 'body.memoryMb',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/containers',
    body: { handle: 'bat-a', cpus: 1e9 },
    status: 400,
    says: 'body.cpus',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/containers',
    body: { handle: 'bat-a', ttlSeconds: -5 },
    status: 400,
    says: 'body.ttlSeconds',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/containers',
    body: { handle: 'bat-a', health: 'bogus' },
    status: 400,
    says: 'body.health: must be "http", "docker", "none"',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/containers',
    body: { handle: 'bat-a', env: { '1BAD': 'v' } },
    status: 400,
    says: 'body.env',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/containers',
    body: { handle: 'bat-a', env: { BIG: huge } },
    status: 413,
    says: 'body: over the 1048576-byte limit',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/containers',
    body: { handle: 'bat-a', env: { BIG: 'x'.repeat(40_000) } },
    status: 413,
    says: 'body.env.BIG: 40004 bytes; the limit is 32768 bytes',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/containers',
    body: { handle: 'bat-a', image: '../../etc/passwd' },
    status: 400,
    says: 'body.image: must be an image reference',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/containers',
    body: { handle: 'bat-a', command: Array.from({ length: 300 }, () => 'x') },
    status: 400,
    says: 'body.command',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/containers',
    body: { handle: 'bat-a', image: 'no-such-image:0' },
    status: 400,
    says: 'image no-such-image:0 is not on the Docker engine',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/containers?wait=maybe',
    body: { handle: 'bat-a' },
    status: 400,
    says: 'query.wait',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/containers',
    body: 'handle=bat-a',
    contentType: 'application/x-www-form-urlencoded',
    status: 415,
    says: 'application/json',
  },
  {
    service: 'platform',
    method: 'GET',
    path: '/api/containers/Bad%20Handle',
    status: 400,
    says: 'handle: must match',
  },
  { service: 'platform', method: 'GET', path: '/api/containers/..%2F..%2Fetc', status: 400, says: 'handle' },
  {
    service: 'platform',
    method: 'GET',
    path: '/api/containers/platform',
    status: 400,
    says: 'handle: is reserved',
  },
  {
    service: 'platform',
    method: 'GET',
    path: '/api/containers/nobody-here',
    status: 404,
    says: 'no container with handle nobody-here',
  },
  {
    service: 'platform',
    method: 'DELETE',
    path: '/api/containers/nobody-here',
    status: 404,
    says: 'nobody-here',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/containers/nobody-here/stop',
    status: 404,
    says: 'nobody-here',
  },
  {
    service: 'platform',
    method: 'GET',
    path: '/api/containers/nobody-here/logs?tail=-1',
    status: 400,
    says: 'query.tail',
  },
  {
    service: 'platform',
    method: 'GET',
    path: '/api/containers/nobody-here/logs?since=NaN',
    status: 400,
    says: 'query.since',
  },
  {
    service: 'platform',
    method: 'GET',
    path: `/api/logs?q=${'q'.repeat(501)}`,
    status: 400,
    says: 'query.q',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/pools/nope/acquire',
    body: { tenant: 'a' },
    status: 404,
    says: 'no pool nope',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/pools/bp/acquire',
    body: { tenant: 5 },
    status: 400,
    says: 'body.tenant',
  },
  {
    service: 'platform',
    method: 'POST',
    path: '/api/pools/bp/release',
    body: { tenant: 'nobody' },
    status: 404,
    says: 'holds no container',
  },
  {
    service: 'platform',
    method: 'GET',
    path: '/api/containers',
    auth: 'none',
    status: 401,
    says: 'admin token',
  },
  {
    service: 'platform',
    method: 'GET',
    path: '/api/containers',
    auth: 'wrong',
    status: 403,
    says: 'wrong admin token',
  },
  {
    service: 'platform',
    method: 'GET',
    path: '/api/containers',
    auth: 'query',
    status: 401,
    says: 'admin token',
  },
  { service: 'platform', method: 'GET', path: '/api/events', auth: 'none', status: 401, says: 'admin token' },
  {
    service: 'platform',
    method: 'GET',
    path: '/admin',
    auth: 'wrong',
    status: 403,
    says: 'wrong admin token',
  },
  {
    service: 'platform',
    method: 'GET',
    path: '/no/such/route',
    status: 404,
    says: 'no route for GET /no/such/route',
  },
  // proxy
  {
    service: 'proxy',
    method: 'POST',
    path: '/v1/chat/completions',
    body: { model: 'gpt-4o' },
    auth: 'none',
    status: 401,
    says: 'missing API key',
  },
  {
    service: 'proxy',
    method: 'POST',
    path: '/v1/chat/completions',
    body: { model: 'gpt-4o' },
    auth: 'wrong',
    status: 401,
    says: 'unknown or revoked API key',
  },
  {
    service: 'proxy',
    method: 'POST',
    path: '/v1/chat/completions',
    body: '{nope',
    auth: 'key',
    status: 400,
    says: 'body: invalid JSON',
  },
  {
    service: 'proxy',
    method: 'POST',
    path: '/v1/chat/completions',
    body: { messages: [] },
    auth: 'key',
    status: 400,
    says: 'body.model',
  },
  {
    service: 'proxy',
    method: 'POST',
    path: '/v1/chat/completions',
    body: { model: 'gpt-4o', max_tokens: -1e9 },
    auth: 'key',
    status: 400,
    says: 'body.max_tokens: must be an integer from 1 to 1000000',
  },
  {
    service: 'proxy',
    method: 'POST',
    path: '/v1/chat/completions',
    body: { model: 'gpt-4o', max_completion_tokens: 'NaN' },
    auth: 'key',
    status: 400,
    says: 'body.max_completion_tokens',
  },
  {
    service: 'proxy',
    method: 'POST',
    path: '/v1/chat/completions',
    body: { model: 'gpt-4o', n: 1000 },
    auth: 'key',
    status: 400,
    says: 'body.n',
  },
  {
    service: 'proxy',
    method: 'POST',
    path: '/v1/messages',
    body: { model: 'claude-sonnet-4-5', max_tokens: 0 },
    auth: 'key',
    status: 400,
    says: 'body.max_tokens',
  },
  { service: 'proxy', method: 'POST', path: '/api/keys', body: {}, status: 400, says: 'body.user' },
  {
    service: 'proxy',
    method: 'POST',
    path: '/api/keys',
    body: { user: 'u', handle: 'h'.repeat(200) },
    status: 400,
    says: 'body.handle',
  },
  { service: 'proxy', method: 'DELETE', path: '/api/keys/nope', status: 404, says: 'no active key nope' },
  {
    service: 'proxy',
    method: 'GET',
    path: `/api/keys?handle=${'h'.repeat(200)}`,
    status: 400,
    says: 'query.handle',
  },
  {
    service: 'proxy',
    method: 'PUT',
    path: '/api/quotas/u',
    body: { dailyUsd: -1 },
    status: 400,
    says: 'body.dailyUsd',
  },
  {
    service: 'proxy',
    method: 'PUT',
    path: '/api/quotas/u',
    body: { dailyUsd: 1e300 },
    status: 400,
    says: 'body.dailyUsd',
  },
  {
    service: 'proxy',
    method: 'PUT',
    path: '/api/quotas/u',
    body: { requestsPerMinute: 1.5 },
    status: 400,
    says: 'body.requestsPerMinute',
  },
  {
    service: 'proxy',
    method: 'GET',
    path: '/api/usage?from=yesterday',
    status: 400,
    says: 'query.from: must be an ISO date (2026-12-01) or date-time',
  },
  {
    service: 'proxy',
    method: 'GET',
    path: '/api/usage?groupBy=bogus',
    status: 400,
    says: 'query.groupBy: Invalid option: expected one of "day"|"model"|"user"|"handle"',
  },
  { service: 'proxy', method: 'GET', path: '/api/usage', auth: 'none', status: 401, says: 'admin token' },
  { service: 'proxy', method: 'GET', path: '/api/usage', auth: 'basic', status: 200, says: '' },
  // gateway
  {
    service: 'gateway',
    method: 'POST',
    path: '/api/message',
    body: '{nope',
    auth: 'api',
    status: 400,
    says: 'body: invalid JSON',
  },
  {
    service: 'gateway',
    method: 'POST',
    path: '/api/message',
    body: {},
    auth: 'api',
    status: 400,
    says: 'body.handle',
  },
  {
    service: 'gateway',
    method: 'POST',
    path: '/api/message',
    body: { handle: 'a', text: '' },
    auth: 'api',
    status: 400,
    says: 'body.text',
  },
  {
    service: 'gateway',
    method: 'POST',
    path: '/api/message',
    body: { handle: 'a', text: huge },
    auth: 'api',
    status: 413,
    says: 'body: over the 1048576-byte limit',
  },
  {
    service: 'gateway',
    method: 'POST',
    path: '/api/message',
    body: { handle: 'a', text: 'x'.repeat(200_000) },
    auth: 'api',
    status: 400,
    says: 'body.text',
  },
  {
    service: 'gateway',
    method: 'POST',
    path: '/api/message',
    body: { handle: 'a', text: 'x', source: 'bogus' },
    auth: 'api',
    status: 400,
    says: 'body.source: Invalid option: expected one of "web"|"api"|"channel"',
  },
  {
    service: 'gateway',
    method: 'POST',
    path: '/api/message',
    body: { handle: 'a', text: 'x', async: 'yes' },
    auth: 'api',
    status: 400,
    says: 'body.async',
  },
  {
    service: 'gateway',
    method: 'POST',
    path: '/api/message',
    body: { handle: 'platform', text: 'x' },
    auth: 'api',
    status: 400,
    says: 'handle: is reserved',
  },
  {
    service: 'gateway',
    method: 'POST',
    path: '/api/message',
    body: { handle: 'nobody-here', text: 'x' },
    auth: 'api',
    status: 404,
    says: 'no container for handle nobody-here',
  },
  {
    service: 'gateway',
    method: 'POST',
    path: '/api/message',
    body: { handle: 'a', text: 'x' },
    auth: 'none',
    status: 401,
    says: 'API token (BEACON_API_TOKEN)',
  },
  {
    service: 'gateway',
    method: 'POST',
    path: '/api/message',
    body: { handle: 'a', text: 'x' },
    auth: 'wrong',
    status: 403,
    says: 'wrong API token',
  },
  {
    service: 'gateway',
    method: 'GET',
    path: '/api/tasks/nope',
    auth: 'api',
    status: 404,
    says: 'no task nope',
  },
  {
    service: 'gateway',
    method: 'GET',
    path: '/api/alerts?status=bogus',
    auth: 'api',
    status: 400,
    says: 'query.status',
  },
  {
    service: 'gateway',
    method: 'POST',
    path: '/api/alert',
    body: { alerts: 'nope' },
    status: 400,
    says: 'body.alerts',
  },
  {
    service: 'gateway',
    method: 'POST',
    path: '/api/alert',
    body: { alerts: [] },
    auth: 'none',
    status: 401,
    says: 'alert token (BEACON_ALERT_TOKEN, else BEACON_ADMIN_TOKEN)',
  },
  {
    service: 'gateway',
    method: 'GET',
    path: '/api/interactions?date=yesterday',
    status: 400,
    says: 'query.date: must be a date as YYYY-MM-DD',
  },
  {
    service: 'gateway',
    method: 'GET',
    path: '/api/interactions',
    auth: 'api',
    status: 403,
    says: 'wrong admin token',
  },
  {
    service: 'gateway',
    method: 'GET',
    path: '/api/artifacts/..%2F..%2Fetc%2Fpasswd',
    auth: 'api',
    status: 400,
    says: 'key',
  },
  { service: 'gateway', method: 'GET', path: '/api/events', auth: 'none', status: 401, says: 'API token' },
  {
    service: 'gateway',
    method: 'GET',
    path: '/api/tasks/no-such-task',
    auth: 'api',
    status: 404,
    says: 'no task',
  },
  {
    service: 'proxy',
    method: 'POST',
    path: '/v1/responses',
    body: { model: 'gpt-4o-mini', input: 'x', max_output_tokens: -5 },
    auth: 'key',
    status: 400,
    says: 'body.max_output_tokens: must be an integer from 1 to 1000000',
  },
  {
    service: 'proxy',
    method: 'POST',
    path: '/v1/responses',
    body: { model: 'gpt-4o-mini', input: 'x', background: true },
    auth: 'key',
    status: 400,
    says: 'body.background: not supported',
  },
  {
    service: 'proxy',
    method: 'POST',
    path: '/v1/responses',
    body: { model: 'gpt-4o-mini', input: 'x', previous_response_id: 'resp_of_someone_else' },
    auth: 'key',
    status: 404,
    says: "No response found with id 'resp_of_someone_else'",
  },
  {
    service: 'proxy',
    method: 'GET',
    path: '/v1/responses/resp_x',
    auth: 'key',
    status: 404,
    says: 'No response found',
  },
  {
    service: 'proxy',
    method: 'DELETE',
    path: '/v1/responses/resp_x',
    auth: 'none',
    status: 401,
    says: 'missing API key',
  },
  {
    service: 'proxy',
    method: 'POST',
    path: '/v1/embeddings',
    body: { input: 'x' },
    auth: 'key',
    status: 400,
    says: 'body.model',
  },
  {
    service: 'proxy',
    method: 'POST',
    path: '/v1/embeddings',
    body: {},
    auth: 'none',
    status: 401,
    says: 'missing API key',
  },
  {
    service: 'proxy',
    method: 'POST',
    path: '/v1/messages/count_tokens',
    body: '{not json',
    auth: 'key',
    status: 400,
    says: 'body: invalid JSON',
  },
  { service: 'proxy', method: 'GET', path: '/api/prices', status: 400, says: 'query.model: required' },
  {
    service: 'proxy',
    method: 'GET',
    path: '/api/prices?model=x',
    auth: 'none',
    status: 401,
    says: 'admin token',
  },
  { service: 'platform', method: 'GET', path: '/api/costs?days=0', status: 400, says: 'query.days' },
  {
    service: 'platform',
    method: 'GET',
    path: '/api/metrics/summary?from=yesterday',
    status: 400,
    says: 'query.from',
  },
  {
    service: 'platform',
    method: 'GET',
    path: '/admin/assets/nope.js',
    status: 404,
    says: 'no asset nope.js',
  },
];

describe.skipIf(!available)('hostile input over every route', () => {
  const work = mkdtempSync(join(tmpdir(), 'beacon-battery-'));
  const fake = startFakeUpstream();
  const services: Partial<Record<Service, RunningService>> = {};
  let key = '';

  beforeAll(async () => {
    services.proxy = await startService('proxy', {
      BEACON_ADMIN_TOKEN: ADMIN,
      BEACON_DATA_DIR: join(work, 'proxy'),
      BEACON_UPSTREAM_OPENAI_URL: fake.url,
      BEACON_UPSTREAM_ANTHROPIC_URL: fake.url,
    });
    services.platform = await startService('platform', {
      BEACON_ADMIN_TOKEN: ADMIN,
      BEACON_DATA_DIR: join(work, 'platform'),
      BEACON_INSTANCE: `battery-${Math.random().toString(36).slice(2, 7)}`,
      BEACON_PROXY_URL: services.proxy.url,
      BEACON_SECRETS_RUNTIME_DIR: join(work, 'secrets'),
      BEACON_POOLS: JSON.stringify([{ name: 'bp', min: 0, max: 1 }]),
    });
    services.gateway = await startService('gateway', {
      BEACON_ADMIN_TOKEN: ADMIN,
      BEACON_API_TOKEN: API,
      BEACON_PLATFORM_URL: services.platform.url,
      BEACON_DATA_DIR: join(work, 'gateway'),
      BEACON_HOME: join(work, 'home'),
    });
    const res = await fetch(`${services.proxy.url}/api/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'mallory' }),
    });
    key = (await res.json()).key;
  });

  afterAll(async () => {
    for (const s of Object.values(services)) await s?.stop();
    fake.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const headersFor = (c: Case): Record<string, string> => {
    const auth = c.auth ?? 'admin';
    const token = {
      admin: ADMIN,
      api: API,
      key,
      wrong: 'wrong-token-0123456789',
      none: '',
      basic: '',
      query: '',
    }[auth];
    return {
      'content-type': c.contentType ?? 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(auth === 'basic' ? { authorization: `Basic ${btoa(`anyone:${ADMIN}`)}` } : {}),
    };
  };

  for (const c of cases) {
    const name = `${c.service} ${c.method} ${c.path.slice(0, 60)}${c.auth ? ` (${c.auth})` : ''} → ${c.status} ${c.says.slice(0, 50)}`;
    test(name, async () => {
      const base = services[c.service]?.url ?? '';
      const url = `${base}${c.path}${c.auth === 'query' ? `${c.path.includes('?') ? '&' : '?'}token=${ADMIN}` : ''}`;
      const res = await fetch(url, {
        method: c.method,
        headers: headersFor(c),
        ...(c.body === undefined
          ? {}
          : { body: typeof c.body === 'string' ? c.body : JSON.stringify(c.body) }),
        signal: AbortSignal.timeout(10_000),
      });
      const text = c.path === '/api/events' && res.status === 200 ? '' : await res.text();
      expect(res.status).toBe(c.status);
      if (c.status < 400) return;
      const body = JSON.parse(text);
      // Beacon's shape, or on the AI routes the provider's own.
      const message: string = body.error?.message ?? '';
      if (c.service === 'proxy' && c.path.startsWith('/v1/')) expect(body.error.type).toBeString();
      else expect(body.error).toMatchObject({ code: expect.any(String), requestId: expect.any(String) });
      expect(message).toContain(c.says);
      expect(text).not.toMatch(/\b\d{1,3}(\.\d{1,3}){3}\b|https?:\/\/|\/tmp\/|\/dev\/shm|\n\s+at /);
    });
  }

  test('nothing a bad request touched became a container or a key', async () => {
    const list = await fetch(`${services.platform?.url}/api/containers`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect((await list.json()).containers).toEqual([]);
    const keys = await fetch(`${services.proxy?.url}/api/keys`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    const live = ((await keys.json()).keys as { user: string; revokedAt: string | null }[]).filter(
      (k) => !k.revokedAt && k.user !== 'mallory',
    );
    expect(live).toEqual([]);
  });
});
