import { AppError, failure, jsonAnswer, openRouter, otherAnswer, type SseBroadcaster } from '@beacon/core';
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { Dispatcher } from '../dispatcher';
import type { TaskStore } from '../tasks';

const stream = createRoute({
  method: 'get',
  path: '/',
  request: { query: z.object({ lastEventId: z.string().max(64).optional(), token: z.string().optional() }) },
  responses: {
    200: otherAnswer('text/event-stream', 'tasks, alerts and container events; Last-Event-ID resumes'),
  },
});

/** GET /api/events: the event stream (SSE; `streamAuth` takes ?token=, which EventSource needs). */
export function eventRoutes({ sse, streamAuth }: { sse: SseBroadcaster; streamAuth: MiddlewareHandler }) {
  return openRouter(streamAuth).openapi(stream, (c) =>
    sse.connect(c.req.header('last-event-id') ?? c.req.valid('query').lastEventId, c.req.raw.signal),
  );
}

const task = z.looseObject({ id: z.string(), handle: z.string(), status: z.string() });
const one = createRoute({
  method: 'get',
  path: '/{id}',
  request: { params: z.object({ id: z.string().max(128) }) },
  responses: { 200: jsonAnswer(task, 'the task'), 404: failure('no task with that id') },
});
const list = createRoute({
  method: 'get',
  path: '/',
  request: { query: z.object({ handle: z.string().max(128).optional() }) },
  responses: { 200: jsonAnswer(z.object({ tasks: z.array(task) }), 'recent tasks, of one handle if asked') },
});

const cancel = createRoute({
  method: 'post',
  path: '/{id}/cancel',
  request: { params: z.object({ id: z.string().max(128) }) },
  responses: {
    202: jsonAnswer(z.object({ taskId: z.string(), status: z.literal('cancelling') }), 'the kernel was told'),
    404: failure('no task with that id'),
    409: failure('the task is not running'),
  },
});

/** GET /api/tasks[/{id}]: dispatched messages and how they ended; POST …/{id}/cancel stops one (user API). */
export function taskRoutes({
  tasks,
  userAuth,
  dispatcher,
}: {
  tasks: TaskStore;
  userAuth: MiddlewareHandler;
  dispatcher?: Pick<Dispatcher, 'cancel'> | undefined;
}) {
  const found = async (id: string) => {
    const task = await tasks.get(id);
    if (!task) throw new AppError('not_found', `no task ${id}`);
    return task;
  };
  return openRouter(userAuth)
    .openapi(one, async (c) => c.json(await found(c.req.valid('param').id), 200))
    .openapi(cancel, async (c) => {
      const task = await found(c.req.valid('param').id);
      if (!dispatcher) throw new AppError('conflict', 'this gateway dispatches no messages');
      await dispatcher.cancel(task);
      return c.json({ taskId: task.id, status: 'cancelling' as const }, 202);
    })
    .openapi(list, async (c) => c.json({ tasks: await tasks.list(c.req.valid('query').handle) }, 200));
}
