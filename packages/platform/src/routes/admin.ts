import { adminAuth, type Logger } from '@beacon/core';
import { Hono } from 'hono';
import type { Registry } from 'prom-client';
import type { ProxyClient } from '../clients/proxy';
import type { ContainerService } from '../containers';
import type { StatsCollector } from '../stats-collector';
import { adminPage } from './admin-page';

export interface AdminDeps {
  containers: ContainerService;
  registry: Registry;
  stats: Pick<StatsCollector, 'latest'>;
  /** Where today's AI cost per container comes from; without it the page shows none. */
  proxy?: Pick<ProxyClient, 'costByHandle'>;
  log: Logger;
  grafanaUrl: string;
  adminToken?: string;
}

const samples = async (registry: Registry, name: string) => {
  const metric = registry.getSingleMetric(name);
  return metric ? (await metric.get()).values : [];
};

/** GET /admin (a page) and /admin/dashboard (JSON): what an operator wants at a glance without Grafana (US50). */
export function adminRoutes({ containers, registry, stats, proxy, log, grafanaUrl, adminToken }: AdminDeps) {
  const app = new Hono();
  const unhealthyHandles = async () =>
    (await samples(registry, 'platform_container_healthy'))
      .filter((v) => v.value === 0)
      .map((v) => String(v.labels.handle));
  app.use('/admin/*', adminAuth(adminToken));
  app.get('/admin', async (c) => {
    const unhealthy = new Set(await unhealthyHandles());
    const startOfDay = new Date(new Date().toISOString().slice(0, 10));
    let costs: Map<string, number> | undefined;
    let costProblem: string | undefined;
    if (!proxy) costProblem = 'no proxy configured (BEACON_PROXY_URL)';
    else
      costs = await proxy.costByHandle(startOfDay).catch((err) => {
        log.warn({ event: 'admin.cost_unavailable', err: String(err) }, 'AI cost unavailable');
        costProblem = 'the proxy did not answer';
        return undefined;
      });
    const rows = containers
      .list()
      .filter((r) => r.state !== 'gone')
      .map((r) => ({
        handle: r.handle,
        owner: r.owner,
        state: r.state,
        desired: r.desired,
        restarts: r.restarts,
        lastExit: r.lastExit ?? null,
        unhealthy: unhealthy.has(r.handle),
        stats: stats.latest(r.handle),
        costUsd: costs?.get(r.handle),
      }));
    return c.html(adminPage({ rows, costProblem, grafanaUrl, generatedAt: new Date() }));
  });
  app.get('/admin/dashboard', async (c) => {
    const rows = containers.list();
    const byState: Record<string, number> = {};
    for (const r of rows) byState[r.state] = (byState[r.state] ?? 0) + 1;
    const unhealthy = await unhealthyHandles();
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
