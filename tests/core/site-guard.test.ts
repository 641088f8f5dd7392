import { describe, expect, test } from 'bun:test';
import { AUTH_FAILURES_PER_MINUTE, adminAuth, createLogger, createServiceApp } from '@beacon/core';
import { Registry } from 'prom-client';

const TOKEN = 'site-guard-token-0123456789';
const log = createLogger({ service: 't', level: 'silent' });

function app(options: { allowedHosts?: string[]; allowedOrigins?: string[]; token?: string } = {}) {
  const a = createServiceApp({
    identity: { name: 't', version: '1' },
    registry: new Registry(),
    log,
    ...options,
    rawBodyPaths: ['/raw/'],
  });
  a.post('/api/thing', adminAuth(options.token), (c) => c.json({ ok: true }));
  a.get('/api/thing', adminAuth(options.token), (c) => c.json({ ok: true }));
  a.post('/raw/file', (c) => c.json({ ok: true }));
  return a;
}
const json = { 'content-type': 'application/json' };

describe('the site guard', () => {
  test('Host: loopback, IP literals and one-label names pass; another dotted name is 421 unless listed', async () => {
    const a = app({ allowedHosts: ['beacon.example.com'] });
    for (const host of [
      'localhost:9000',
      '127.0.0.1:9000',
      '[::1]:9000',
      '172.17.0.1:8080',
      'proxy:8080',
      'beacon.example.com',
    ])
      expect((await a.request('/api/thing', { headers: { host } })).status).toBe(200);
    const refused = await a.request('/api/thing', { headers: { host: 'evil.example:9000' } });
    expect(refused.status).toBe(421);
    expect((await refused.json()).error.message).toContain('BEACON_ALLOWED_HOSTS');
  });

  test('a write or a preflight from another origin is 403; the same origin, a listed one and non-browsers pass', async () => {
    const a = app({ allowedOrigins: ['https://console.example.com'] });
    const post = (headers: Record<string, string>) =>
      a.request('/api/thing', {
        method: 'POST',
        body: '{}',
        headers: { host: 'localhost:9000', ...json, ...headers },
      });
    expect((await post({ origin: 'http://evil.example' })).status).toBe(403);
    expect((await post({ origin: 'null' })).status).toBe(403);
    expect((await post({ 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post({ origin: 'http://localhost:9000', 'sec-fetch-site': 'same-origin' })).status).toBe(
      200,
    );
    expect((await post({ origin: 'https://console.example.com' })).status).toBe(200);
    expect((await post({})).status).toBe(200);
    const preflight = await a.request('/api/thing', {
      method: 'OPTIONS',
      headers: {
        host: 'localhost:9000',
        origin: 'http://evil.example',
        'access-control-request-method': 'POST',
      },
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const socket = await a.request('/api/thing', {
      headers: { upgrade: 'websocket', origin: 'http://evil.example' },
    });
    expect(socket.status).toBe(403);
  });

  test('a write body that is not JSON is 415 (raw paths excepted); one past the limit is 413 before it is parsed', async () => {
    const a = app();
    const text = await a.request('/api/thing', {
      method: 'POST',
      body: 'x',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    const form = await a.request('/api/thing', {
      method: 'POST',
      body: 'a=b',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
    const raw = await a.request('/raw/file', {
      method: 'POST',
      body: 'x',
      headers: { 'content-type': 'text/html' },
    });
    expect(raw.status).toBe(200);
    const big = `"${'x'.repeat(2 * 1024 * 1024)}"`;
    const tooLarge = await a.request('/api/thing', { method: 'POST', body: big, headers: json });
    expect(tooLarge.status).toBe(413);
  });

  test('bad credentials from one source are slowed past the limit; the right token always passes', async () => {
    const a = app({ token: TOKEN });
    const wrong = () =>
      a.request('/api/thing', { headers: { authorization: 'Bearer wrong-token-0123456789' } });
    for (let i = 0; i < AUTH_FAILURES_PER_MINUTE; i++) expect((await wrong()).status).toBe(403);
    const slowed = await wrong();
    expect(slowed.status).toBe(429);
    expect(Number(slowed.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await a.request('/api/thing')).status).toBe(429);
    expect((await a.request('/api/thing', { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(
      200,
    );
  });
});
