import { AppError, type AuditTrail, adminAuth, parseJsonBody, parseWith, setAuditTarget } from '@beacon/core';
import { Hono } from 'hono';
import { z } from 'zod';
import type { DockerClient } from '../clients/docker';
import type { ContainerService } from '../containers';
import { toView } from '../domain/container-view';
import { containerName, createContainerSchema, envTooLarge, handleSchema } from '../domain/spec';
import type { StatsCollector } from '../stats-collector';

export interface ContainerRoutesDeps {
  containers: ContainerService;
  docker: DockerClient;
  stats: Pick<StatsCollector, 'latest'>;
  audited: AuditTrail['audited'];
  adminToken?: string;
}

/** wait=false answers as soon as the container runs, before its health check passes. */
const createQuery = z.object({ wait: z.enum(['true', 'false']).default('true') });

const logQuery = z.object({
  since: z.coerce.number().int().min(0).optional(),
  tail: z.coerce.number().int().min(1).max(10_000).default(200),
});

const searchQuery = logQuery.extend({
  q: z.string().max(500).optional(),
  handle: handleSchema.optional(),
});

const handleParam = (handle: string) => parseWith(handleSchema, handle, 'handle');

export function containerRoutes({ containers, docker, stats, audited, adminToken }: ContainerRoutesDeps) {
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
  // Logs across containers from the engine itself, for when Loki is not deployed (US52).
  app.get('/api/logs', async (c) => {
    const { q, handle, since, tail } = parseWith(searchQuery, c.req.query(), 'query');
    const handles = handle
      ? [handle]
      : containers
          .list()
          .filter((r) => r.state !== 'gone')
          .map((r) => r.handle);
    const needle = q?.toLowerCase();
    const results = [];
    for (const h of handles) {
      const lines = await docker
        .logs(containerName(h), { ...(since ? { since } : {}), tail })
        .catch((err: unknown) => {
          if (err instanceof AppError && err.code === 'not_found') return [];
          throw err;
        });
      for (const line of lines) {
        if (!needle || line.message.toLowerCase().includes(needle)) results.push({ handle: h, ...line });
      }
    }
    results.sort((a, b) => a.timestamp.localeCompare(b.timestamp));
    return c.json({ lines: results });
  });
  return app;
}
