import { adminAuth } from '@beacon/core';
import { Hono } from 'hono';
import type { Registry } from 'prom-client';
import type { ContainerService } from '../containers';

export interface AdminDeps {
  containers: ContainerService;
  registry: Registry;
  grafanaUrl: string;
  adminToken?: string;
}

const samples = async (registry: Registry, name: string) => {
  const metric = registry.getSingleMetric(name);
  return metric ? (await metric.get()).values : [];
};

/** GET /admin/dashboard: what an operator wants at a glance when Grafana is not deployed (US50). */
export function adminRoutes({ containers, registry, grafanaUrl, adminToken }: AdminDeps) {
  const app = new Hono();
  app.use('/admin/*', adminAuth(adminToken));
  app.get('/admin/dashboard', async (c) => {
    const rows = containers.list();
    const byState: Record<string, number> = {};
    for (const r of rows) byState[r.state] = (byState[r.state] ?? 0) + 1;
    const unhealthy = (await samples(registry, 'platform_container_healthy'))
      .filter((v) => v.value === 0)
      .map((v) => String(v.labels.handle));
    const recycledLastHour: Record<string, number> = {};
    for (const r of containers.recycledSince(Date.now() - 3_600_000)) {
      recycledLastHour[r.reason] = (recycledLastHour[r.reason] ?? 0) + 1;
    }
    const total = async (name: string) => (await samples(registry, name)).reduce((a, v) => a + v.value, 0);
    return c.json({
      containers: { total: rows.filter((r) => r.state !== 'gone').length, byState },
      unhealthy,
      recycledLastHour,
      totals: {
        recycles: await total('platform_container_recycles_total'),
        oomKills: await total('platform_container_oom_kills_total'),
        healthCheckFailures: await total('platform_container_health_check_failures_total'),
      },
      grafanaUrl,
      generatedAt: new Date().toISOString(),
    });
  });
  return app;
}
