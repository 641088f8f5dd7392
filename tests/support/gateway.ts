import { afterEach } from 'bun:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@beacon/core';
import { Registry } from 'prom-client';
import { createApp } from '../../packages/gateway/src/app';
import { loadConfig } from '../../packages/gateway/src/config';
import { openDatabase } from '../../packages/gateway/src/db';
import { createDeps } from '../../packages/gateway/src/deps';

export interface GatewayOptions {
  natsUrl?: string;
  platformUrl?: string;
  durable?: string;
  sseQueueSize?: number;
  port?: number;
  alertToken?: string;
  apiToken?: string;
}

/**
 * A gateway built as main.ts builds it (createDeps), on an in-memory database, served on loopback (SSE needs a
 * real socket). These tests have no platform: /health holds the event side's checks only.
 */
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
  const log = createLogger({ service: 'gateway', level: 'silent' });
  const config = loadConfig({
    BEACON_PLATFORM_URL: platformUrl ?? 'http://127.0.0.1:1',
    BEACON_SSE_QUEUE_SIZE: String(sseQueueSize),
    BEACON_HOME: mkdtempSync(join(tmpdir(), 'beacon-gw-home-')),
    BEACON_DATA_DIR: mkdtempSync(join(tmpdir(), 'beacon-gw-data-')),
    ...(natsUrl ? { BEACON_NATS_URL: natsUrl } : {}),
    ...(alertToken ? { BEACON_ALERT_TOKEN: alertToken } : {}),
    ...(apiToken ? { BEACON_API_TOKEN: apiToken } : {}),
  });
  const gateway = createDeps(
    config,
    { identity: { name: 'gateway', version: 'test' }, log, registry },
    { store: openDatabase(':memory:'), ...(durable ? { durable } : {}) },
  );
  const { events } = gateway.parts;
  const app = createApp({ ...gateway.parts, probes: events.probes });
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
      for (const step of gateway.stop.steps) await step();
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
