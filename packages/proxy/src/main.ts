import { configOrExit, langfuseOf, serveApp, serviceBasics } from '@beacon/core';
import pkg from '../package.json';
import { createApp } from './app';
import { langfuseProcessor } from './clients/langfuse';
import { loadConfig } from './config';
import { createDeps } from './deps';

const config = configOrExit(() => loadConfig(Bun.env));
const langfuse = langfuseOf(config);
const { log, registry, exposure, tracing, reporting } = serviceBasics('proxy', pkg.version, config, {
  spanProcessors: langfuse ? [langfuseProcessor(langfuse)] : [],
});
const services = createDeps(config, { log, registry, tracing, reporting });
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
