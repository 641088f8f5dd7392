import {
  createAuditTrail,
  createServiceApp,
  type Logger,
  type MetricsExposure,
  type Probe,
  type ServiceIdentity,
} from '@beacon/core';
import type { Hono } from 'hono';
import type { Registry } from 'prom-client';
import type { ProxyDb } from './db';
import type { PriceTable } from './domain/prices';
import { createForwarder, type Upstream } from './forward';
import { createKeyStore } from './keys';
import type { ProxyMetrics } from './metrics';
import { createQuotaGuard } from './quotas';
import { createRecorder } from './recorder';
import { adminRoutes } from './routes/admin';
import { aiRoutes } from './routes/ai';
import { createUsageWriter, type UsageWriter } from './usage-writer';

export interface ProxyDeps extends MetricsExposure {
  identity: ServiceIdentity;
  registry: Registry;
  metrics: ProxyMetrics;
  log: Logger;
  adminToken?: string;
  probes?: Probe[];
  /** Without a database the service answers only the shared routes (used by the metrics tests). */
  db?: ProxyDb;
  /** Created by main.ts to flush on shutdown; made here when absent. */
  usageWriter?: UsageWriter;
  prices?: PriceTable;
  upstreams?: { openai: Upstream; anthropic: Upstream };
  maxMetricUsers?: number;
  upstreamTimeoutMs?: number;
}

export function createApp(deps: ProxyDeps): Hono {
  const app = createServiceApp(deps);
  const { db, prices, upstreams, metrics, log } = deps;
  if (!db || !prices || !upstreams) return app;
  const writer = deps.usageWriter ?? createUsageWriter(db, log);
  const keys = createKeyStore(db);
  const quotas = createQuotaGuard(db, writer, metrics);
  const recorder = createRecorder(writer, metrics, prices, log, deps.maxMetricUsers ?? 500);
  const forwarder = createForwarder({
    upstreams,
    keys,
    quotas,
    recorder,
    metrics,
    log,
    timeoutMs: deps.upstreamTimeoutMs ?? 300_000,
  });
  app.route('/', aiRoutes(forwarder, prices));
  app.route('/', adminRoutes(db, writer, keys, quotas, createAuditTrail(db, log), deps.adminToken));
  return app;
}
