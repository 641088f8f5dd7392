import { join } from 'node:path';
import { AppError, adminAuth, parseWith } from '@beacon/core';
import { Hono } from 'hono';
import type { Registry } from 'prom-client';
import type { GatewayClient } from '../clients/gateway';
import { handleSchema } from '../domain/spec';
import type { ContainerService } from '../lifecycle/containers';
import { type Console, unhealthyHandles } from '../observe/console-view';

export interface AdminDeps {
  containers: ContainerService;
  registry: Registry;
  console: Console;
  gateway?: Pick<GatewayClient, 'dispatches'>;
  grafanaUrl: string;
  adminToken?: string;
}

const STATIC_DIR = join(import.meta.dir, '../../static');
/** What /admin/assets serves: the page's own files and uPlot, from the platform itself (no CDN). */
const ASSETS: Record<string, { path: string; type: string }> = {
  'console.js': { path: join(STATIC_DIR, 'console.js'), type: 'text/javascript' },
  'console.css': { path: join(STATIC_DIR, 'console.css'), type: 'text/css' },
  'uPlot.js': {
    path: Bun.resolveSync('uplot/dist/uPlot.iife.min.js', import.meta.dir),
    type: 'text/javascript',
  },
  'uPlot.css': { path: Bun.resolveSync('uplot/dist/uPlot.min.css', import.meta.dir), type: 'text/css' },
};

const samples = async (registry: Registry, name: string) => {
  const metric = registry.getSingleMetric(name);
  return metric ? (await metric.get()).values : [];
};

/**
 * The operator's console (GET /admin: a page, live over GET /admin/stream) and /admin/dashboard (JSON): what an
 * operator wants at a glance without Grafana.
 */
export function adminRoutes({
  containers,
  registry,
  console: fleet,
  gateway,
  grafanaUrl,
  adminToken,
}: AdminDeps) {
  const app = new Hono();
  app.use('/admin', adminAuth(adminToken));
  app.use('/admin/*', adminAuth(adminToken));
  app.get('/admin', (c) =>
    c.body(Bun.file(join(STATIC_DIR, 'index.html')).stream(), 200, {
      'content-type': 'text/html; charset=utf-8',
    }),
  );
  app.get('/admin/assets/:name', (c) => {
    const asset = ASSETS[c.req.param('name')];
    if (!asset) throw new AppError('not_found', `no asset ${c.req.param('name')}`);
    return c.body(Bun.file(asset.path).stream(), 200, {
      'content-type': `${asset.type}; charset=utf-8`,
      'cache-control': 'no-cache',
    });
  });
  app.get('/admin/stream', (c) => fleet.connect(c.req.raw.signal));
  app.get('/admin/api/fleet', async (c) => c.json({ ...(await fleet.snapshot()), grafanaUrl }));
  app.get('/admin/api/containers/:handle/dispatches', async (c) => {
    const handle = parseWith(handleSchema, c.req.param('handle'), 'handle');
    if (!gateway)
      return c.json({ handle, dispatches: [], problem: 'no gateway configured (BEACON_GATEWAY_URL)' });
    const dispatches = await gateway.dispatches(handle).catch(() => undefined);
    return c.json({
      handle,
      dispatches: dispatches ?? [],
      ...(dispatches ? {} : { problem: 'the gateway did not answer' }),
    });
  });
  app.get('/admin/dashboard', async (c) => {
    const rows = containers.list();
    const byState: Record<string, number> = {};
    for (const r of rows) byState[r.state] = (byState[r.state] ?? 0) + 1;
    const unhealthy = [...(await unhealthyHandles(registry))];
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
