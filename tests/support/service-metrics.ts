import { describe, expect, test } from 'bun:test';
import { createLogger, type ServiceIdentity } from '@beacon/core';
import type { Hono } from 'hono';
import { Registry } from 'prom-client';
import { hasTool } from './deps';
import { promtoolCheckMetrics, startService } from './service';

export const quietLog = createLogger({ service: 'test', level: 'silent' });

export interface ServiceAppFactory {
  service: 'gateway' | 'platform' | 'proxy';
  /** The service's createApp wired with its createMetrics on `registry`. */
  build(registry: Registry, identity: ServiceIdentity): Hono;
  /** A metric only this service registers. */
  ownMetric: string;
  /** Metrics of other services that must never appear here. */
  foreignMetrics: string[];
}

/** The checks of docs/metrics.md every service's /metrics must pass; each service test calls it. */
export function describeServiceMetrics({ service, build, ownMetric, foreignMetrics }: ServiceAppFactory) {
  const identity = { name: service, version: '0.1.0-test' };
  const text = async (app: Hono) => (await app.request('/metrics')).text();

  describe(`${service} /metrics`, () => {
    test('answers Prometheus text with the registry content type', async () => {
      const registry = new Registry();
      const res = await build(registry, identity).request('/metrics');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(registry.contentType);
      expect(await res.text()).toContain(`# TYPE ${ownMetric} `);
    });

    test('has its own registry: nothing of another service appears', async () => {
      const body = await text(build(new Registry(), identity));
      for (const foreign of foreignMetrics) expect(body).not.toContain(foreign);
    });

    test('HTTP metrics are labelled by route pattern, unknown paths as unmatched', async () => {
      const app = build(new Registry(), identity);
      await app.request('/version');
      await app.request('/no/such/path/42');
      const body = await text(app);
      expect(body).toContain('http_requests_total{method="GET",route="/version",status="200"} 1');
      expect(body).toContain('http_requests_total{method="GET",route="unmatched",status="404"} 1');
      expect(body).not.toContain('/no/such/path');
    });

    test('/health, /ready and /version have the contract shapes', async () => {
      const app = build(new Registry(), identity);
      const health = await (await app.request('/health')).json();
      expect(health).toMatchObject({ status: 'healthy', version: '0.1.0-test', checks: expect.any(Object) });
      expect(Number.isNaN(Date.parse(health.timestamp))).toBe(false);
      expect(await (await app.request('/ready')).json()).toMatchObject({ ready: true });
      expect(await (await app.request('/version')).json()).toEqual({ name: service, version: '0.1.0-test' });
    });

    test.skipIf(!hasTool('promtool'))('the running service passes promtool check metrics', async () => {
      const running = await startService(service);
      try {
        const res = await fetch(`${running.url}/metrics`);
        const body = await res.text();
        expect(body).toContain(`${service}_info{version="`);
        expect(body).toContain(`${service}_start_time_seconds `);
        expect(body).toContain('process_cpu_seconds_total');
        const check = await promtoolCheckMetrics(body);
        expect(check.output).toBe('');
        expect(check.code).toBe(0);
      } finally {
        await running.stop();
      }
    });
  });
}
