import { createServiceApp, type Logger, type Probe, type ServiceIdentity } from '@beacon/core';
import type { Hono } from 'hono';
import type { Registry } from 'prom-client';
import type { GatewayMetrics } from './metrics';

export interface GatewayDeps {
  identity: ServiceIdentity;
  registry: Registry;
  metrics: GatewayMetrics;
  log: Logger;
  metricsToken?: string;
  probes?: Probe[];
}

export function createApp(deps: GatewayDeps): Hono {
  return createServiceApp(deps);
}
