import { AppError, type SseBroadcaster } from '@beacon/core';
import { Hono } from 'hono';
import type { TaskStore } from '../tasks';

/** GET /api/events (SSE, Last-Event-ID resumes) and the tasks. */
export function eventRoutes({ sse, tasks }: { sse: SseBroadcaster; tasks: TaskStore }) {
  return new Hono()
    .get('/api/events', (c) =>
      sse.connect(c.req.header('last-event-id') ?? c.req.query('lastEventId'), c.req.raw.signal),
    )
    .get('/api/tasks/:id', async (c) => {
      const task = await tasks.get(c.req.param('id'));
      if (!task) throw new AppError('not_found', `no task ${c.req.param('id')}`);
      return c.json(task);
    })
    .get('/api/tasks', async (c) => c.json({ tasks: await tasks.list(c.req.query('handle')) }));
}
