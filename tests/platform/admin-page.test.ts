import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Registry } from 'prom-client';
import { createApp } from '../../packages/platform/src/app';
import { createProxyClient } from '../../packages/platform/src/clients/proxy';
import { formatUsd } from '../../packages/platform/src/domain/format';
import { healthOf } from '../../packages/platform/src/routes/admin-page';
import { StatsCollector } from '../../packages/platform/src/stats-collector';
import { hasDocker } from '../support/deps';
import { createPlatformParts, ensureTestImage, handlePrefix, removeContainers } from '../support/docker';
import { freePort } from '../support/ports';
import { buildProxy, openaiCall } from '../support/proxy';

const available = await hasDocker();
const prefix = handlePrefix('admin');
const identity = { name: 'platform', version: 'test' };

describe.skipIf(!available)('the admin page (US50 without Grafana)', () => {
  const parts = createPlatformParts();
  const stats = new StatsCollector({
    docker: parts.docker,
    metrics: parts.metrics,
    log: parts.log,
    intervalMs: 0,
  });
  const proxy = buildProxy();
  const proxyServer = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: proxy.app.fetch });
  const handle = `${prefix}-eve`;
  let costUsd = 0;

  beforeAll(async () => {
    await ensureTestImage();
    await parts.containers.create({ handle, owner: '<b>eve</b>', memoryMb: 64 });
    // Two samples: CPU % is the difference between them.
    await stats.collectOnce();
    await Bun.sleep(300);
    await stats.collectOnce();
    // One AI call made with the container's key, so today's cost for it is known to the proxy.
    const key = await proxy.keyFor('eve', handle);
    const res = await proxy.post('/v1/chat/completions', openaiCall(), { authorization: `Bearer ${key}` });
    costUsd = Number(res.headers.get('x-beacon-cost-usd'));
  });
  afterAll(async () => {
    proxyServer.stop(true);
    proxy.stop();
    await removeContainers(prefix);
  });

  let proxyClient = createProxyClient(`http://127.0.0.1:${proxyServer.port}`, undefined);
  const app = createApp({
    identity,
    ...parts,
    stats,
    proxy: { costByHandle: (from) => proxyClient.costByHandle(from) },
  });

  test("every container with CPU, memory, network and today's AI cost, values escaped", async () => {
    const res = await app.request('/admin');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toStartWith('text/html');
    const text = await res.text();
    const row = text.slice(text.indexOf(`data-handle="${handle}"`)).split('</tr>')[0] ?? '';
    const cells = [...row.matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((m) => m[1]?.trim());
    expect(cells[0]).toBe(handle);
    expect(cells[1]).toBe('&lt;b&gt;eve&lt;/b&gt;');
    expect(cells[2]).toBe('running');
    expect(cells[3]).toBe('ok');
    expect(cells[4]).toBe('0');
    expect(cells[5]).toMatch(/^\d+\.\d%$/);
    expect(cells[6]).toMatch(/^[\d.]+ (B|KiB|MiB) \/ 64\.0 MiB \(\d+%\)$/);
    expect(cells[7]).toMatch(/^[\d.]+ (B|KiB) \/ [\d.]+ (B|KiB)$/);
    expect(costUsd).toBeGreaterThan(0);
    expect(cells[9]).toBe(formatUsd(costUsd));
    expect(text).not.toContain('<b>eve</b>');
    expect(text).toContain(`AI cost today <b id="cost">${formatUsd(costUsd)}</b>`);
  });

  test('the proxy unreachable: the page still answers and says why cost is missing', async () => {
    const reachable = proxyClient;
    proxyClient = createProxyClient(`http://127.0.0.1:${await freePort()}`, undefined);
    const res = await app.request('/admin');
    proxyClient = reachable;
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('AI cost unavailable: the proxy did not answer.');
    expect(text).toContain(`data-handle="${handle}"`);
  });

  test('with an admin token a browser is asked for it (Basic), and the token as password opens the page', async () => {
    const token = 'admin-token-0123456789';
    const guarded = createApp({ identity, ...parts, registry: new Registry(), stats, adminToken: token });
    const denied = await guarded.request('/admin');
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toBe('Basic realm="beacon"');
    const basic = `Basic ${Buffer.from(`operator:${token}`).toString('base64')}`;
    expect((await guarded.request('/admin', { headers: { authorization: basic } })).status).toBe(200);
  });
});

describe('the Health column', () => {
  const base = {
    handle: 'h',
    owner: 'o',
    state: 'running',
    desired: 'running',
    restarts: 0,
    lastExit: null,
    unhealthy: false,
  };
  const exit = (oomKilled: boolean, minutesAgo: number) => ({
    code: 137,
    oomKilled,
    at: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
    reason: oomKilled ? 'oom' : 'exited with code 137',
  });

  test('never "ok" for a container OOM-killed or crashing in the last hour, or one in a crash loop', () => {
    expect(healthOf(base)).toEqual({ label: 'ok', trouble: false });
    expect(healthOf({ ...base, lastExit: exit(true, 5), restarts: 1 }).label).toStartWith('OOM-killed');
    expect(healthOf({ ...base, lastExit: exit(true, 5), restarts: 1 }).trouble).toBe(true);
    expect(healthOf({ ...base, lastExit: exit(false, 5) }).trouble).toBe(true);
    expect(healthOf({ ...base, lastExit: exit(true, 90) })).toEqual({ label: 'ok', trouble: false });
    expect(healthOf({ ...base, state: 'stopped', lastExit: exit(false, 1), restarts: 4 })).toEqual({
      label: 'exited (code 137), crash-looping',
      trouble: true,
    });
    expect(healthOf({ ...base, state: 'stopped', desired: 'stopped' })).toEqual({
      label: 'stopped by operator',
      trouble: false,
    });
    expect(healthOf({ ...base, unhealthy: true }).label).toBe('unhealthy');
  });
});
