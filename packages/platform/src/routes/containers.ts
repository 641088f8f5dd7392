import { AppError, type AuditTrail, adminAuth, parseJsonBody, parseWith, setAuditTarget } from '@beacon/core';
import { Hono } from 'hono';
import { z } from 'zod';
import type { SessionSummaries } from '../clients/langfuse';
import { toView } from '../domain/container-view';
import { timeWindow } from '../domain/history';
import { createContainerSchema, envTooLarge, handleSchema } from '../domain/spec';
import type { ContainerService } from '../lifecycle/containers';
import type { LogSearch } from '../observe/log-search';
import type { StatsCollector } from '../observe/stats-collector';

export interface ContainerRoutesDeps {
  containers: ContainerService;
  stats: Pick<StatsCollector, 'latest'>;
  audited: AuditTrail['audited'];
  logSearch?: LogSearch;
  /** With Langfuse configured: each container's session summary. */
  sessions?: SessionSummaries | undefined;
  adminToken?: string;
}

/** wait=false answers as soon as the container runs, before its health check passes. */
const createQuery = z.object({ wait: z.enum(['true', 'false']).default('true') });

const logQuery = z.object({
  since: z.coerce.number().int().min(0).optional(),
  tail: z.coerce.number().int().min(1).max(10_000).default(200),
});

/** An instant: ISO 8601, or Unix seconds. */
const instant = z
  .string()
  .transform((v) => (/^\d+(\.\d+)?$/.test(v) ? new Date(Number(v) * 1000) : new Date(v)))
  .refine((d) => !Number.isNaN(d.getTime()), 'must be an ISO time (2026-12-02T10:00:00Z) or Unix seconds');

const searchQuery = z.object({
  q: z.string().min(1).max(500).optional(),
  handle: handleSchema.optional(),
  traceId: z
    .string()
    .regex(/^[0-9a-fA-F-]{8,64}$/, 'must be a trace id (32 hex digits)')
    .optional(),
  since: instant.optional(),
  until: instant.optional(),
  limit: z.coerce.number().int().min(1).max(5000).default(200),
});

const handleParam = (handle: string) => parseWith(handleSchema, handle, 'handle');

export function containerRoutes({
  containers,
  stats,
  audited,
  logSearch,
  sessions,
  adminToken,
}: ContainerRoutesDeps) {
  const app = new Hono();
  app.use('*', adminAuth(adminToken));
  app.post('/api/containers', audited('container.create'), async (c) => {
    const { wait } = parseWith(createQuery, c.req.query(), 'query');
    const input = await parseJsonBody(c, createContainerSchema);
    setAuditTarget(c, input.handle);
    const tooLarge = envTooLarge(input.env);
    if (tooLarge) throw new AppError('payload_too_large', tooLarge);
    return c.json(await containers.create(input, { wait: wait === 'true' }), 201);
  });
  app.get('/api/containers', (c) => c.json({ containers: containers.list().map(toView) }));
  app.get('/api/containers/:handle', async (c) => {
    const handle = handleParam(c.req.param('handle'));
    const row = containers.get(handle);
    const detail = await containers.inspect(handle);
    const latest = stats.latest(handle);
    const { sample: _sample, ...current } = latest ?? { sample: undefined };
    return c.json({
      ...toView(row),
      docker: detail
        ? { state: detail.state, ip: detail.ip ?? null, startedAt: detail.startedAt ?? null }
        : null,
      stats: latest ? current : null,
      ...(sessions ? { langfuse: await sessions.summary(handle) } : {}),
    });
  });
  app.delete('/api/containers/:handle', audited('container.delete'), async (c) => {
    await containers.destroy(handleParam(c.req.param('handle')));
    return c.body(null, 204);
  });
  for (const action of ['start', 'stop', 'restart'] as const) {
    app.post(`/api/containers/:handle/${action}`, audited(`container.${action}`), async (c) =>
      c.json(await containers[action](handleParam(c.req.param('handle')))),
    );
  }
  app.post('/api/containers/:handle/recycle', audited('container.recycle'), async (c) =>
    c.json(await containers.recycle(handleParam(c.req.param('handle')), 'manual')),
  );
  app.get('/api/containers/:handle/logs', async (c) => {
    const handle = handleParam(c.req.param('handle'));
    const { since, tail } = parseWith(logQuery, c.req.query(), 'query');
    return c.json({ handle, lines: await containers.logs(handle, { ...(since ? { since } : {}), tail }) });
  });
  // Logs across containers (US52): Loki's when it is configured, else the engine's.
  if (logSearch)
    app.get('/api/logs', async (c) => {
      const { since, until, ...query } = parseWith(searchQuery, c.req.query(), 'query');
      const { from, to } = timeWindow(since?.getTime(), until?.getTime(), 3_600_000, {
        start: 'since',
        end: 'query.until',
      });
      const window = { since: new Date(from), until: new Date(to) };
      const lines = await logSearch.search({ ...query, ...window });
      return c.json({
        source: logSearch.source,
        since: window.since.toISOString(),
        until: window.until.toISOString(),
        lines,
      });
    });
  return app;
}
