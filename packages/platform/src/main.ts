import { configOrExit, serveService, serviceBasics } from '@beacon/core';
import pkg from '../package.json';
import { loadConfig } from './config';
import { createDeps } from './deps';

const config = configOrExit(() => loadConfig(Bun.env));
const basics = serviceBasics('platform', pkg.version, config);
// Listening first: a platform that cannot listen exits before its watcher, monitor and pools start.
await serveService(createDeps(config, basics), {
  host: config.BEACON_HOST,
  port: config.BEACON_PORT,
  log: basics.log,
});
