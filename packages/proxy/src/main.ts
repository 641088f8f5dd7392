import { configOrExit, langfuseOf, serveService, serviceBasics } from '@beacon/core';
import pkg from '../package.json';
import { langfuseProcessor } from './clients/langfuse';
import { loadConfig } from './config';
import { createDeps } from './deps';

const config = configOrExit(() => loadConfig(Bun.env));
const langfuse = langfuseOf(config);
const basics = serviceBasics('proxy', pkg.version, config, {
  spanProcessors: langfuse ? [langfuseProcessor(langfuse)] : [],
});
// Listening first: while the database is away, /health/ready says so (503) instead of nothing answering.
await serveService(createDeps(config, basics), {
  host: config.BEACON_HOST,
  port: config.BEACON_PORT,
  log: basics.log,
});
