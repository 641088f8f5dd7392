import { describe, expect, test } from 'bun:test';
import { adminAuth, createServiceApp, serviceBasics } from '@beacon/core';
import { Registry } from 'prom-client';
import { loadConfig as loadProxy } from '../../packages/proxy/src/config';
import { quietLog } from '../support/service-metrics';

const build = (metricsToken?: string, adminToken?: string) => {
  const app = createServiceApp({
    identity: { name: 't', version: '1' },
    registry: new Registry(),
    log: quietLog,
    metricsToken,
  });
  app.use('/admin/*', adminAuth(adminToken));
  app.get('/admin/ping', (c) => c.text('pong'));
  return app;
};

describe('metrics token and admin token', () => {
  test('without BEACON_METRICS_TOKEN /metrics is open', async () => {
    expect((await build().request('/metrics')).status).toBe(200);
  });

  test('with a token: 401 without, 403 wrong, 200 with bearer or basic auth', async () => {
    const app = build('scrape-me');
    const none = await app.request('/metrics');
    expect(none.status).toBe(401);
    expect((await none.json()).error.code).toBe('unauthorized');
    expect((await app.request('/metrics', { headers: { authorization: 'Bearer nope' } })).status).toBe(403);
    expect((await app.request('/metrics', { headers: { authorization: 'Bearer scrape-me' } })).status).toBe(
      200,
    );
    const basic = `Basic ${Buffer.from('prometheus:scrape-me').toString('base64')}`;
    expect((await app.request('/metrics', { headers: { authorization: basic } })).status).toBe(200);
  });

  test('admin routes: open on loopback without a token; 401/403/200 with one', async () => {
    expect((await build().request('/admin/ping')).status).toBe(200);
    const app = build(undefined, 'admin-token-1234567890');
    expect((await app.request('/admin/ping')).status).toBe(401);
    expect((await app.request('/admin/ping', { headers: { authorization: 'Bearer wrong' } })).status).toBe(
      403,
    );
    const ok = await app.request('/admin/ping', {
      headers: { authorization: 'Bearer admin-token-1234567890' },
    });
    expect(ok.status).toBe(200);
  });

  test('refused credentials are counted by route and reason (http_auth_refused_total)', async () => {
    const registry = new Registry();
    const app = createServiceApp({ identity: { name: 't', version: '1' }, registry, log: quietLog });
    app.use('/admin/*', adminAuth('admin-token-1234567890'));
    app.get('/admin/ping', (c) => c.text('pong'));
    for (let i = 0; i < 3; i++) await app.request('/admin/ping');
    await app.request('/admin/ping', { headers: { authorization: 'Bearer wrong' } });
    await app.request('/admin/ping', { headers: { authorization: 'Bearer admin-token-1234567890' } });
    const text = await registry.metrics();
    expect(text).toContain('http_auth_refused_total{route="/admin/ping",reason="unauthenticated"} 3');
    expect(text).toContain('http_auth_refused_total{route="/admin/ping",reason="forbidden"} 1');
  });
});

describe('BEACON_METRICS_PATH and BEACON_METRICS_ENABLED', () => {
  const app = (options: { metricsPath?: string; metricsEnabled?: boolean }) =>
    createServiceApp({
      identity: { name: 't', version: '1' },
      registry: new Registry(),
      log: quietLog,
      ...options,
    });

  test('a path of its own moves the endpoint; disabled, there is none', async () => {
    const moved = app({ metricsPath: '/internal/prom' });
    expect((await moved.request('/internal/prom')).status).toBe(200);
    expect((await moved.request('/metrics')).status).toBe(404);
    expect((await app({ metricsEnabled: false }).request('/metrics')).status).toBe(404);
  });

  test('config: a path must start with / and may not shadow another route', () => {
    expect(loadProxy({ BEACON_METRICS_PATH: '/internal/prom' }).BEACON_METRICS_PATH).toBe('/internal/prom');
    expect(loadProxy({ BEACON_METRICS_ENABLED: 'false' }).BEACON_METRICS_ENABLED).toBe(false);
    expect(() => loadProxy({ BEACON_METRICS_PATH: 'metrics' })).toThrow('BEACON_METRICS_PATH');
    expect(() => loadProxy({ BEACON_METRICS_PATH: '/health' })).toThrow('must not shadow another route');
    expect(() => loadProxy({ BEACON_METRICS_PATH: '/api/metrics' })).toThrow('must not shadow another route');
  });
});

describe('/metrics off loopback', () => {
  const basics = (env: Record<string, string>) =>
    serviceBasics('proxy', 't', loadProxy({ BEACON_LOG_LEVEL: 'silent', ...env })).exposure;
  test('bound beyond loopback it needs a token: its own, else the admin token; on loopback it stays open', () => {
    const admin = 'admin-token-0123456789';
    expect(basics({ BEACON_HOST: '0.0.0.0', BEACON_ADMIN_TOKEN: admin }).metricsToken).toBe(admin);
    expect(
      basics({ BEACON_HOST: '0.0.0.0', BEACON_ADMIN_TOKEN: admin, BEACON_METRICS_TOKEN: 'scrape-me' })
        .metricsToken,
    ).toBe('scrape-me');
    expect(basics({}).metricsToken).toBeUndefined();
  });
});
