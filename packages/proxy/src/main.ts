import { configOrExit, serveApp, serviceBasics } from '@beacon/core';
import pkg from '../package.json';
import { createApp } from './app';
import { loadConfig } from './config';
import { createDeps } from './deps';

const config = configOrExit(() => loadConfig(Bun.env));
const { log, registry, exposure } = serviceBasics('proxy', pkg.version, config);
const services = createDeps(config, { log, registry });
const app = createApp({
  identity: { name: 'proxy', version: pkg.version, commit: config.BEACON_COMMIT },
  registry,
  log,
  ...exposure,
  adminToken: config.BEACON_ADMIN_TOKEN,
  services,
});
serveApp(app, { host: config.BEACON_HOST, port: config.BEACON_PORT, log, stopSteps: services.stopSteps });
// Listening first: while the database is away, /health/ready says so (503) instead of nothing answering.
await services.start();
