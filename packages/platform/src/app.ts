import { createServiceApp, type Logger, type Probe, type ServiceIdentity } from '@beacon/core';
import type { Hono } from 'hono';
import type { Registry } from 'prom-client';
import type { PlatformMetrics } from './metrics';

export interface PlatformDeps {
  identity: ServiceIdentity;
  registry: Registry;
  metrics: PlatformMetrics;
  log: Logger;
  metricsToken?: string;
  probes?: Probe[];
}

export function createApp(deps: PlatformDeps): Hono {
  return createServiceApp(deps);
}
