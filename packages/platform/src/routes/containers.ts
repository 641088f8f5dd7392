import {
  AppError,
  type AuditTrail,
  adminAuth,
  beforeRoute,
  failure,
  jsonAnswer,
  jsonBody,
  openRouter,
  setAuditTarget,
} from '@beacon/core';
import { createRoute, z } from '@hono/zod-openapi';
import { addressOf, KERNEL_PORT } from '../clients/container-config';
import type { SessionSummaries } from '../clients/langfuse';
import { containerViewSchema, toView } from '../domain/container-view';
import { timeWindow } from '../domain/history';
import { type ContainerSpec, createContainerSchema, envTooLarge, handleSchema } from '../domain/spec';
import type { ContainerService } from '../lifecycle/containers';
import type { PlatformEvents } from '../lifecycle/events';
import type { LogSearch } from '../observe/log-search';
import type { StatsCollector } from '../observe/stats-collector';

export interface ContainerRoutesDeps {
  containers: ContainerService;
  stats: Pick<StatsCollector, 'latest'>;
  audited: AuditTrail['audited'];
  /** With Langfuse configured: each container's session summary. */
  sessions?: SessionSummaries | undefined;
  /** The container's timeline, from the events kept. */
  events?: Pick<PlatformEvents, 'timeline'> | undefined;
  adminToken?: string | undefined;
}

const failures = {
  400: failure('a field is wrong: the message names it'),
  404: failure('no container with that handle'),
};
const params = z.object({ handle: handleSchema });

/** wait=false answers as soon as the container runs, before its health check passes. */
const create = createRoute({
  method: 'post',
  path: '/',
  request: {
    query: z.object({ wait: z.enum(['true', 'false']).default('true') }),
    body: jsonBody(createContainerSchema),
  },
  responses: {
    201: jsonAnswer(containerViewSchema, 'created, and serving unless wait=false'),
    409: failure('the handle exists'),
    ...failures,
  },
});
const list = createRoute({
  method: 'get',
  path: '/',
  responses: { 200: jsonAnswer(z.object({ containers: z.array(containerViewSchema) }), 'every container') },
});
const one = createRoute({
  method: 'get',
  path: '/{handle}',
  request: { params },
  responses: {
    200: jsonAnswer(
      containerViewSchema.extend({
        docker: z
          .object({
            state: z.string(),
            ip: z.string().nullable(),
            /** Where the kernel answers: its published address, else ip:7681. */
            address: z.string().nullable(),
            startedAt: z.string().nullable(),
          })
          .nullable(),
        stats: z.record(z.string(), z.unknown()).nullable(),
        /** When the next restart (with backoff) is due, if one is scheduled. */
        nextRestartAt: z.string().nullable(),
        timeline: z.array(
          z.object({
            at: z.string(),
            type: z.string(),
            detail: z.record(z.string(), z.unknown()).optional(),
          }),
        ),
        langfuse: z.unknown().optional(),
        /** What the container's kernel asks of its HTTP callers (the gateway reads it here). */
        kernelToken: z.string().nullable(),
      }),
      'the container, as the engine and the stats collector see it',
    ),
    ...failures,
  },
});
const destroy = createRoute({
  method: 'delete',
  path: '/{handle}',
  request: { params },
  responses: { 204: { description: 'removed' }, ...failures },
});
const command = (action: 'start' | 'stop' | 'restart' | 'recycle') =>
  createRoute({
    method: 'post',
    path: `/{handle}/${action}`,
    request: { params },
    responses: { 200: jsonAnswer(containerViewSchema, `${action}ed`), ...failures },
  });
const logs = createRoute({
  method: 'get',
  path: '/{handle}/logs',
  request: {
    params,
    query: z.object({
      since: z.coerce.number().int().min(0).optional(),
      tail: z.coerce.number().int().min(1).max(10_000).default(200),
    }),
  },
  responses: {
    200: jsonAnswer(
      z.object({ handle: z.string(), lines: z.array(z.looseObject({})) }),
      "the engine's log lines",
    ),
    ...failures,
  },
});

/** /api/containers: the operator's commands on containers and what they read (admin token). */
const dueAt = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export function containerRoutes({
  containers,
  stats,
  audited,
  sessions,
  events,
  adminToken,
}: ContainerRoutesDeps) {
  const app = openRouter(adminAuth(adminToken));
  beforeRoute(app, create, audited('container.create'));
  app.openapi(create, async (c) => {
    const input = c.req.valid('json');
    setAuditTarget(c, input.handle);
    const tooLarge = envTooLarge(input.env);
    if (tooLarge) throw new AppError('payload_too_large', tooLarge);
    return c.json(await containers.create(input, { wait: c.req.valid('query').wait === 'true' }), 201);
  });
  app.openapi(list, (c) => c.json({ containers: containers.list().map(toView) }, 200));
  app.openapi(one, async (c) => {
    const { handle } = c.req.valid('param');
    const row = containers.get(handle);
    const detail = await containers.inspect(handle);
    const latest = stats.latest(handle);
    const { sample: _sample, ...current } = latest ?? { sample: undefined };
    return c.json(
      {
        ...toView(row),
        docker: detail
          ? {
              state: detail.state,
              ip: detail.ip ?? null,
              address: addressOf(detail, KERNEL_PORT) ?? null,
              startedAt: detail.startedAt ?? null,
            }
          : null,
        stats: latest ? current : null,
        nextRestartAt: dueAt(containers.restartDueAt(handle)),
        // Created, died (with its code), OOM, restarted, stopped, recycled…: the last ones kept, newest first.
        timeline: (events?.timeline(handle) ?? []).map(({ type, at, detail }) => ({
          at,
          type,
          ...(detail ? { detail } : {}),
        })),
        kernelToken: (row.spec as ContainerSpec).kernelToken ?? null,
        ...(sessions ? { langfuse: await sessions.summary(handle) } : {}),
      },
      200,
    );
  });
  beforeRoute(app, destroy, audited('container.delete'));
  app.openapi(destroy, async (c) => {
    await containers.destroy(c.req.valid('param').handle);
    return c.body(null, 204);
  });
  for (const action of ['start', 'stop', 'restart', 'recycle'] as const) {
    const route = command(action);
    beforeRoute(app, route, audited(`container.${action}`));
    app.openapi(route, async (c) => {
      const { handle } = c.req.valid('param');
      const view = action === 'recycle' ? containers.recycle(handle, 'manual') : containers[action](handle);
      return c.json(await view, 200);
    });
  }
  app.openapi(logs, async (c) => {
    const { handle } = c.req.valid('param');
    const { since, tail } = c.req.valid('query');
    return c.json(
      { handle, lines: await containers.logs(handle, { ...(since ? { since } : {}), tail }) },
      200,
    );
  });
  return app;
}

/** An instant: ISO 8601, or Unix seconds. */
const instant = z
  .string()
  .transform((v) => (/^\d+(\.\d+)?$/.test(v) ? new Date(Number(v) * 1000) : new Date(v)))
  .refine((d) => !Number.isNaN(d.getTime()), 'must be an ISO time (2026-12-02T10:00:00Z) or Unix seconds');

const search = createRoute({
  method: 'get',
  path: '/',
  request: {
    query: z.object({
      q: z.string().min(1).max(500).optional(),
      handle: handleSchema.optional(),
      traceId: z
        .string()
        .regex(/^[0-9a-fA-F-]{8,64}$/, 'must be a trace id (32 hex digits)')
        .optional(),
      since: instant.optional(),
      until: instant.optional(),
      limit: z.coerce.number().int().min(1).max(5000).default(200),
    }),
  },
  responses: {
    200: jsonAnswer(
      z.object({
        source: z.string(),
        since: z.string(),
        until: z.string(),
        lines: z.array(z.looseObject({})),
      }),
      'matching lines, newest first',
    ),
    400: failures[400],
  },
});

/** /api/logs: logs across containers; Loki's when it is configured, else the engine's (admin token). */
export function logRoutes({
  logSearch,
  adminToken,
}: {
  logSearch: LogSearch;
  adminToken?: string | undefined;
}) {
  const app = openRouter(adminAuth(adminToken));
  app.openapi(search, async (c) => {
    const { since, until, ...query } = c.req.valid('query');
    const { from, to } = timeWindow(since?.getTime(), until?.getTime(), 3_600_000, {
      start: 'since',
      end: 'query.until',
    });
    const window = { since: new Date(from), until: new Date(to) };
    const lines = await logSearch.search({ ...query, ...window });
    return c.json(
      {
        source: logSearch.source,
        since: window.since.toISOString(),
        until: window.until.toISOString(),
        lines,
      },
      200,
    );
  });
  return app;
}
