import { join } from 'node:path';
import { createAuditTrail, databaseProbe, type Logger } from '@beacon/core';
import type { Registry } from 'prom-client';
import { createUpstreamClient } from './clients/upstream';
import type { ProxyConfig } from './config';
import { openDatabase, type ProxyDb } from './db';
import { createForwarder } from './forward';
import { createKeyStore } from './keys';
import { createMetrics } from './metrics';
import { loadPrices } from './prices';
import { createQuotaGuard } from './quotas';
import { createRecorder } from './recorder';
import { createUsageStore } from './usage-store';

/** Everything the proxy runs, built from its config; main.ts serves it, tests build the same. */
export function createDeps(
  config: ProxyConfig,
  {
    log,
    registry,
    db = openDatabase(join(config.BEACON_DATA_DIR, 'proxy.sqlite')),
  }: {
    log: Logger;
    registry: Registry;
    db?: ProxyDb;
  },
) {
  const metrics = createMetrics(registry);
  const usage = createUsageStore(db, log);
  const keys = createKeyStore(db);
  const quotas = createQuotaGuard(db, usage, metrics);
  const prices = loadPrices(config.BEACON_PRICES_FILE);
  const recorder = createRecorder(usage, metrics, prices, log, config.BEACON_METRICS_MAX_USERS);
  const upstream = createUpstreamClient(
    {
      openai: { url: config.BEACON_UPSTREAM_OPENAI_URL, key: config.BEACON_UPSTREAM_OPENAI_KEY },
      anthropic: { url: config.BEACON_UPSTREAM_ANTHROPIC_URL, key: config.BEACON_UPSTREAM_ANTHROPIC_KEY },
    },
    config.BEACON_UPSTREAM_TIMEOUT * 1000,
  );
  return {
    metrics,
    db,
    usage,
    keys,
    quotas,
    prices,
    forwarder: createForwarder({ upstream, keys, quotas, recorder, metrics, log }),
    audit: createAuditTrail(db, log),
    probes: [databaseProbe(db, 'database', usage.check)],
    /** Calls a crash cut off are closed as interrupted and charged what they reserved. */
    start() {
      const interrupted = usage.closeInterrupted();
      if (interrupted.calls > 0)
        log.warn(
          { event: 'proxy.calls_interrupted', ...interrupted },
          `${interrupted.calls} calls were in flight when the proxy last stopped; charged what they reserved`,
        );
    },
    /** After the listener has drained: the last usage rows are written before the process exits. */
    stopSteps: [usage.flush],
  };
}

export type ProxyServices = ReturnType<typeof createDeps>;
