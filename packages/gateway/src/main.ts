import { configOrExit, serveApp, serviceBasics } from '@beacon/core';
import { createBunWebSocket } from 'hono/bun';
import pkg from '../package.json';
import { createApp } from './app';
import { loadConfig } from './config';
import { createDeps } from './deps';

const config = configOrExit(() => loadConfig(Bun.env));
const { log, registry, exposure, tracing, reporting } = serviceBasics('gateway', pkg.version, config);
const gateway = createDeps(config, { log, registry, tracing, reporting });
const { upgradeWebSocket, websocket } = createBunWebSocket();
const app = createApp({
  ...gateway.appDeps,
  identity: { name: 'gateway', version: pkg.version, commit: config.BEACON_COMMIT },
  registry,
  log,
  ...exposure,
  upgradeWebSocket,
});
serveApp(app, {
  host: config.BEACON_HOST,
  port: config.BEACON_PORT,
  log,
  websocket: websocket as Bun.WebSocketHandler<unknown>,
  closeStreams: gateway.closeStreams,
  stopSteps: gateway.stopSteps,
});
// Listening first: while the database is away, /health/ready says so (503) instead of nothing answering.
await gateway.start();
