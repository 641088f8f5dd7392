import { join } from 'node:path';
import { AppError, adminAuth, failure, jsonAnswer, openRouter, otherAnswer } from '@beacon/core';
import { createRoute, z } from '@hono/zod-openapi';
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
  adminToken?: string | undefined;
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

const page = createRoute({
  method: 'get',
  path: '/',
  responses: { 200: otherAnswer('text/html', "the console's page") },
});
const asset = createRoute({
  method: 'get',
  path: '/assets/{name}',
  request: { params: z.object({ name: z.string() }) },
  responses: {
    200: otherAnswer('text/javascript', "the page's script, style sheet or uPlot"),
    404: failure('no such asset'),
  },
});
const stream = createRoute({
  method: 'get',
  path: '/stream',
  responses: { 200: otherAnswer('text/event-stream', 'the fleet view, then each change') },
});
const fleetView = createRoute({
  method: 'get',
  path: '/api/fleet',
  responses: { 200: jsonAnswer(z.looseObject({ grafanaUrl: z.string() }), 'the fleet view now') },
});
const dispatches = createRoute({
  method: 'get',
  path: '/api/containers/{handle}/dispatches',
  request: { params: z.object({ handle: handleSchema }) },
  responses: {
    200: jsonAnswer(
      z.object({
        handle: z.string(),
        dispatches: z.array(z.looseObject({})),
        problem: z.string().optional(),
      }),
      "the container's recent dispatches, from the gateway; `problem` says why there are none",
    ),
    400: failure('not a handle'),
  },
});
const dashboard = createRoute({
  method: 'get',
  path: '/dashboard',
  responses: {
    200: jsonAnswer(
      z.object({
        containers: z.object({ total: z.number(), byState: z.record(z.string(), z.number()) }),
        unhealthy: z.array(z.string()),
        recycledLastHour: z.record(z.string(), z.number()),
        totals: z.object({ recycles: z.number(), oomKills: z.number(), healthCheckFailures: z.number() }),
        grafanaUrl: z.string(),
        generatedAt: z.string(),
      }),
      'counts at a glance',
    ),
  },
});

/**
 * /admin: the operator's console (a page, live over /admin/stream) and /admin/dashboard (JSON): what an
 * operator wants at a glance without Grafana (admin token).
 */
export function adminRoutes({
  containers,
  registry,
  console: fleet,
  gateway,
  grafanaUrl,
  adminToken,
}: AdminDeps) {
  const app = openRouter(adminAuth(adminToken));
  app.openapi(page, (c) =>
    c.body(Bun.file(join(STATIC_DIR, 'index.html')).stream(), 200, {
      'content-type': 'text/html; charset=utf-8',
    }),
  );
  app.openapi(asset, (c) => {
    const { name } = c.req.valid('param');
    const found = ASSETS[name];
    if (!found) throw new AppError('not_found', `no asset ${name}`);
    return c.body(Bun.file(found.path).stream(), 200, {
      'content-type': `${found.type}; charset=utf-8`,
      'cache-control': 'no-cache',
    });
  });
  app.openapi(stream, (c) => fleet.connect(c.req.raw.signal));
  app.openapi(fleetView, async (c) => c.json({ ...(await fleet.snapshot()), grafanaUrl }, 200));
  app.openapi(dispatches, async (c) => {
    const { handle } = c.req.valid('param');
    if (!gateway)
      return c.json({ handle, dispatches: [], problem: 'no gateway configured (BEACON_GATEWAY_URL)' }, 200);
    const found = await gateway.dispatches(handle).catch(() => undefined);
    return c.json(
      {
        handle,
        dispatches: found ?? [],
        ...(found ? {} : { problem: 'the gateway did not answer' }),
      },
      200,
    );
  });
  app.openapi(dashboard, async (c) => {
    const rows = containers.list();
    const byState: Record<string, number> = {};
    for (const r of rows) byState[r.state] = (byState[r.state] ?? 0) + 1;
    const unhealthy = [...(await unhealthyHandles(registry))];
    const recycledLastHour: Record<string, number> = {};
    for (const r of containers.recycledSince(Date.now() - 3_600_000)) {
      recycledLastHour[r.reason] = (recycledLastHour[r.reason] ?? 0) + 1;
    }
    const total = async (name: string) => (await samples(registry, name)).reduce((a, v) => a + v.value, 0);
    return c.json(
      {
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
      },
      200,
    );
  });
  return app;
}
