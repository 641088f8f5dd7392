import { configOrExit, serveApp, serviceBasics } from '@beacon/core';
import pkg from '../package.json';
import { createApp } from './app';
import { loadConfig } from './config';
import { createDeps } from './deps';
import { createMetrics } from './metrics';

const config = configOrExit(() => loadConfig(Bun.env));
const { log, registry, exposure, reporting } = serviceBasics('platform', pkg.version, config);

const platform = createDeps(config, createMetrics(registry), registry, log, { reporting });
const app = createApp({
  ...platform.appDeps,
  identity: { name: 'platform', version: pkg.version, commit: config.BEACON_COMMIT },
  ...exposure,
  adminToken: config.BEACON_ADMIN_TOKEN,
});
// Listen first: a platform that cannot listen exits before its watcher, monitor and pools start.
serveApp(app, {
  host: config.BEACON_HOST,
  port: config.BEACON_PORT,
  log,
  closeStreams: platform.closeStreams,
  stopSteps: platform.stopSteps,
});
platform.start();
