import { createServiceApp, type Logger, type Probe, type ServiceIdentity } from '@beacon/core';
import type { Hono } from 'hono';
import type { Registry } from 'prom-client';
import type { ProxyMetrics } from './metrics';

export interface ProxyDeps {
  identity: ServiceIdentity;
  registry: Registry;
  metrics: ProxyMetrics;
  log: Logger;
  metricsToken?: string;
  probes?: Probe[];
}

export function createApp(deps: ProxyDeps): Hono {
  return createServiceApp(deps);
}
