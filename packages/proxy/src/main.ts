import { join } from 'node:path';
import { configOrExit, databaseProbe, serveApp, serviceBasics } from '@beacon/core';
import pkg from '../package.json';
import { createApp } from './app';
import { loadConfig } from './config';
import { openDatabase } from './db';
import { createMetrics } from './metrics';
import { loadPrices } from './prices';
import { createUsageWriter } from './usage-writer';

const config = configOrExit(() => loadConfig(Bun.env));
const { log, registry, exposure } = serviceBasics('proxy', pkg.version, config);

const db = openDatabase(join(config.BEACON_DATA_DIR, 'proxy.sqlite'));
const usageWriter = createUsageWriter(db, log);
const interrupted = usageWriter.closeInterrupted();
if (interrupted.calls > 0)
  log.warn(
    { event: 'proxy.calls_interrupted', ...interrupted },
    `${interrupted.calls} calls were in flight when the proxy last stopped; charged what they reserved`,
  );
const app = createApp({
  identity: { name: 'proxy', version: pkg.version, commit: config.BEACON_COMMIT },
  registry,
  metrics: createMetrics(registry),
  log,
  ...exposure,
  adminToken: config.BEACON_ADMIN_TOKEN,
  db,
  usageWriter,
  probes: [databaseProbe(db, 'database', usageWriter.check)],
  prices: loadPrices(config.BEACON_PRICES_FILE),
  upstreams: {
    openai: { url: config.BEACON_UPSTREAM_OPENAI_URL, key: config.BEACON_UPSTREAM_OPENAI_KEY },
    anthropic: { url: config.BEACON_UPSTREAM_ANTHROPIC_URL, key: config.BEACON_UPSTREAM_ANTHROPIC_KEY },
  },
  maxMetricUsers: config.BEACON_METRICS_MAX_USERS,
  upstreamTimeoutMs: config.BEACON_UPSTREAM_TIMEOUT * 1000,
});

// After the listener has drained: the last usage rows are written before the process exits.
serveApp(app, { host: config.BEACON_HOST, port: config.BEACON_PORT, log, stopSteps: [usageWriter.flush] });
