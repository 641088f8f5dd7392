import {
  collectProcessMetrics,
  configOrExit,
  createLogger,
  registerServiceInfo,
  serveApp,
} from '@beacon/core';
import { Registry } from 'prom-client';
import pkg from '../package.json';
import { createApp } from './app';
import { loadConfig } from './config';
import { createMetrics } from './metrics';

const config = configOrExit(() => loadConfig(Bun.env));
const log = createLogger({ service: 'gateway', level: config.BEACON_LOG_LEVEL });
const registry = new Registry();
collectProcessMetrics(registry);
registerServiceInfo(registry, 'gateway', pkg.version);
const identity = { name: 'gateway', version: pkg.version, commit: config.BEACON_COMMIT };

const app = createApp({
  identity,
  registry,
  metrics: createMetrics(registry),
  log,
  metricsToken: config.BEACON_METRICS_TOKEN,
});

serveApp(app, { host: config.BEACON_HOST, port: config.BEACON_PORT, log });
