import { describe, expect, test } from 'bun:test';
import { createServiceApp, type Probe } from '@beacon/core';
import { Registry } from 'prom-client';
import { quietLog } from '../support/service-metrics';

const build = (probes: Probe[]) =>
  createServiceApp({
    identity: { name: 't', version: '1.2.3', commit: 'abc' },
    registry: new Registry(),
    log: quietLog,
    probes,
  });

describe('/health, /ready, /version', () => {
  test('all probes ok: healthy and ready, with latency per check', async () => {
    const app = build([{ name: 'db', required: true, check: async () => {} }]);
    const health = await (await app.request('/health')).json();
    expect(health.status).toBe('healthy');
    expect(health.checks.db).toMatchObject({ status: 'ok', latency_ms: expect.any(Number) });
    const ready = await app.request('/ready');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, checks: { db: { status: 'ok' } } });
    expect(await (await app.request('/version')).json()).toEqual({
      name: 't',
      version: '1.2.3',
      commit: 'abc',
    });
  });

  test('a failing required probe: /ready 503 naming it, /health down (503)', async () => {
    const app = build([
      { name: 'docker', required: true, check: async () => Promise.reject(new Error('connect ENOENT')) },
      { name: 'nats', check: async () => {} },
    ]);
    const ready = await app.request('/ready');
    expect(ready.status).toBe(503);
    // The Kubernetes names: readiness the same, liveness independent of the dependencies.
    expect((await app.request('/health/ready')).status).toBe(503);
    expect((await app.request('/health/live')).status).toBe(200);
    const body = await ready.json();
    expect(body.ready).toBe(false);
    expect(body.checks.docker).toMatchObject({ status: 'error', message: 'connect ENOENT' });
    const health = await app.request('/health');
    expect(health.status).toBe(503);
    expect((await health.json()).status).toBe('down');
  });

  test('a probe that hangs is cut at its timeout and fails /ready', async () => {
    const app = build([{ name: 'slow', required: true, timeoutMs: 50, check: () => new Promise(() => {}) }]);
    const res = await app.request('/ready');
    expect(res.status).toBe(503);
    expect((await res.json()).checks.slow.message).toContain('timed out after 50 ms');
  });

  test('an optional probe failing or warning degrades /health but keeps it 200 and ready', async () => {
    const app = build([
      { name: 'nats', check: async () => Promise.reject(new Error('disconnected')) },
      { name: 'disk', check: async () => ({ status: 'warning', message: '91% full' }) },
    ]);
    const health = await app.request('/health');
    expect(health.status).toBe(200);
    const body = await health.json();
    expect(body.status).toBe('degraded');
    expect(body.checks.disk).toMatchObject({ status: 'warning', message: '91% full' });
    expect((await app.request('/ready')).status).toBe(200);
  });
});
