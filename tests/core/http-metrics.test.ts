import { describe, expect, test } from 'bun:test';
import { createServiceApp } from '@beacon/core';
import { Hono } from 'hono';
import { Registry } from 'prom-client';
import { quietLog } from '../support/service-metrics';

function build() {
  const registry = new Registry();
  const app = createServiceApp({ identity: { name: 't', version: '1' }, registry, log: quietLog });
  const things = new Hono().get('/:id', (c) => c.json({ id: c.req.param('id') }));
  app.route('/api/things', things);
  app.post('/api/fail', () => {
    throw new Error('secret database password in here');
  });
  app.get('/api/missing/:id', (c) => c.json({ error: 'gone' }, 404));
  return { app, metrics: async () => registry.metrics() };
}

describe('HTTP metrics', () => {
  test('the counter and histogram move on each request, labelled by the route pattern', async () => {
    const { app, metrics } = build();
    await app.request('/api/things/123');
    let text = await metrics();
    expect(text).toContain('http_requests_total{method="GET",route="/api/things/:id",status="200"} 1');
    expect(text).toContain(
      'http_request_duration_seconds_count{method="GET",route="/api/things/:id",status="200"} 1',
    );
    await app.request('/api/things/456');
    text = await metrics();
    expect(text).toContain('http_requests_total{method="GET",route="/api/things/:id",status="200"} 2');
    expect(text).toContain(
      'http_request_duration_seconds_bucket{method="GET",route="/api/things/:id",status="200",le="+Inf"} 2',
    );
    expect(text).not.toContain('/api/things/123');
  });

  test('an unknown path is unmatched; a handler that answers 404 keeps its pattern', async () => {
    const { app, metrics } = build();
    await app.request('/nope/123');
    await app.request('/api/missing/7');
    const text = await metrics();
    expect(text).toContain('http_requests_total{method="GET",route="unmatched",status="404"} 1');
    expect(text).toContain('http_requests_total{method="GET",route="/api/missing/:id",status="404"} 1');
    expect(text).not.toContain('/nope');
  });

  test('a thrown error is a 500 in the one error shape, counted under its route, without internals', async () => {
    const { app, metrics } = build();
    const res = await app.request('/api/fail', { method: 'POST' });
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body.error.code).toBe('internal');
    expect(typeof body.error.requestId).toBe('string');
    expect(body.error.requestId.length).toBeGreaterThan(0);
    expect(JSON.stringify(body)).not.toContain('password');
    expect(await metrics()).toContain('http_requests_total{method="POST",route="/api/fail",status="500"} 1');
  });

  test('histogram buckets are cumulative', async () => {
    const { app, metrics } = build();
    for (let i = 0; i < 3; i++) await app.request('/version');
    const buckets = [
      ...(await metrics()).matchAll(
        /http_request_duration_seconds_bucket\{[^}]*route="\/version"[^}]*\} (\d+)/g,
      ),
    ].map((m) => Number(m[1]));
    expect(buckets.length).toBeGreaterThan(2);
    for (let i = 1; i < buckets.length; i++)
      expect(buckets[i]).toBeGreaterThanOrEqual(buckets[i - 1] as number);
    expect(buckets.at(-1)).toBe(3);
  });
});
