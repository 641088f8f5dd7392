import {
  AppError,
  commandSchema,
  createServiceApp,
  type Logger,
  type Probe,
  parseJsonBody,
  type ServiceIdentity,
  sseFrame,
  tokenAuth,
} from '@beacon/core';
import type { Hono } from 'hono';
import { Registry } from 'prom-client';
import type { Runner } from './runner';

/** GET /health (and the shared routes) and POST /v1/dispatch: one command, answered as an SSE stream. */
export interface KernelDeps {
  identity: ServiceIdentity;
  runner: Runner;
  log: Logger;
  probes?: Probe[];
  /** What POST /v1/dispatch asks of its caller (the gateway); none: open (a kernel run by hand). */
  token?: string | undefined;
}

export function createApp({ identity, runner, log, probes = [], token }: KernelDeps): Hono {
  const app = createServiceApp({ identity, registry: new Registry(), log, probes });
  const callerAuth = tokenAuth(token, { name: 'kernel token (from the platform)', role: 'kernel-token' });
  app.post('/v1/dispatch', callerAuth, async (c) => {
    const command = await parseJsonBody(c, commandSchema);
    const traceparent = c.req.header('traceparent');
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
    const send = (event: string, data: unknown) => {
      try {
        controller?.enqueue(sseFrame(event, data));
      } catch {}
    };
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c;
        void runner
          .execute(
            command,
            {
              progress: (p) => send('progress', p),
              result: (r) => send('result', r),
              error: (e) => send('error', e),
              cancelled: (x) => send('cancelled', x),
            },
            traceparent,
          )
          .finally(() => {
            try {
              c.close();
            } catch {}
          });
      },
      // The caller went away: stop spending on its behalf.
      cancel: () => {
        runner.cancel(command.taskId, 'caller disconnected');
      },
    });
    return new Response(body, {
      headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' },
    });
  });
  // The gateway's cancel of a dispatch over HTTP: the task ends as `cancelled` on its own stream.
  app.post('/v1/tasks/:taskId/cancel', callerAuth, (c) => {
    const taskId = c.req.param('taskId');
    if (!runner.cancel(taskId, 'cancelled by request'))
      throw new AppError('not_found', `task ${taskId} is not running here`);
    return c.json({ taskId, cancelled: true }, 202);
  });
  return app;
}
