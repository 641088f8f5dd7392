import { configOrExit, serveService, serviceBasics } from '@beacon/core';
import { createBunWebSocket } from 'hono/bun';
import pkg from '../package.json';
import { loadConfig } from './config';
import { createDeps } from './deps';

const config = configOrExit(() => loadConfig(Bun.env));
const basics = serviceBasics('gateway', pkg.version, config);
const { upgradeWebSocket, websocket } = createBunWebSocket();
// Listening first: while the database is away, /health/ready says so (503) instead of nothing answering.
await serveService(createDeps(config, basics, { upgradeWebSocket }), {
  host: config.BEACON_HOST,
  port: config.BEACON_PORT,
  log: basics.log,
  websocket: websocket as Bun.WebSocketHandler<unknown>,
});
