import { describe, expect, test } from 'bun:test';
import { adminAuth, createServiceApp } from '@beacon/core';
import { Registry } from 'prom-client';
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
});
