import { afterEach } from 'bun:test';
import { createLogger } from '@beacon/core';
import { Registry } from 'prom-client';
import { createApp } from '../../packages/gateway/src/app';
import { startEventSide } from '../../packages/gateway/src/events';
import { createMetrics } from '../../packages/gateway/src/metrics';

export interface GatewayOptions {
  natsUrl?: string;
  platformUrl?: string;
  durable?: string;
  sseQueueSize?: number;
  port?: number;
  alertToken?: string;
  apiToken?: string;
}

/** The gateway's event side and app, served on loopback (SSE needs a real socket). */
export function startGateway({
  natsUrl,
  platformUrl,
  durable,
  sseQueueSize = 256,
  port = 0,
  alertToken,
  apiToken,
}: GatewayOptions = {}) {
  const registry = new Registry();
  const metrics = createMetrics(registry);
  const log = createLogger({ service: 'gateway', level: 'silent' });
  const events = startEventSide({
    natsUrl,
    platformUrl: platformUrl ?? 'http://127.0.0.1:1',
    sseQueueSize,
    metrics,
    log,
    ...(durable ? { durable } : {}),
  });
  const app = createApp({
    identity: { name: 'gateway', version: 'test' },
    registry,
    metrics,
    log,
    probes: events.probes,
    sse: events.sse,
    tasks: events.tasks,
    ...(alertToken ? { alertToken } : {}),
    ...(apiToken ? { apiToken } : {}),
  });
  const server = Bun.serve({ hostname: '127.0.0.1', port, fetch: app.fetch, idleTimeout: 0 });
  return {
    url: `http://127.0.0.1:${server.port}`,
    app,
    events,
    registry,
    stopped: false,
    async stop() {
      if (this.stopped) return;
      this.stopped = true;
      await events.stop();
      server.stop(true);
    },
  };
}

export type TestGateway = ReturnType<typeof startGateway>;

/** GET a JSON body from the gateway app. */
export async function getJson(gw: TestGateway, path: string) {
  return (await gw.app.request(path)).json();
}

/** For a test file: a start() whose gateways are stopped after each test. */
export function useGateways() {
  const running: TestGateway[] = [];
  afterEach(async () => {
    for (const g of running.splice(0)) await g.stop();
  });
  return (options: GatewayOptions = {}) => {
    const g = startGateway(options);
    running.push(g);
    return g;
  };
}
