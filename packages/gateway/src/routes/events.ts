import { AppError, type SseBroadcaster } from '@beacon/core';
import { Hono, type MiddlewareHandler } from 'hono';
import type { TaskStore } from '../tasks';

/** GET /api/events (SSE, Last-Event-ID resumes; `streamAuth` takes ?token=) and the tasks (`userAuth`). */
export function eventRoutes({
  sse,
  tasks,
  userAuth,
  streamAuth,
}: {
  sse: SseBroadcaster;
  tasks: TaskStore;
  userAuth: MiddlewareHandler;
  streamAuth: MiddlewareHandler;
}) {
  return new Hono()
    .get('/api/events', streamAuth, (c) =>
      sse.connect(c.req.header('last-event-id') ?? c.req.query('lastEventId'), c.req.raw.signal),
    )
    .get('/api/tasks/:id', userAuth, async (c) => {
      const task = await tasks.get(c.req.param('id'));
      if (!task) throw new AppError('not_found', `no task ${c.req.param('id')}`);
      return c.json(task);
    })
    .get('/api/tasks', userAuth, async (c) => c.json({ tasks: await tasks.list(c.req.query('handle')) }));
}
