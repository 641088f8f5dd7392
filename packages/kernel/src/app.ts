import {
  commandSchema,
  createServiceApp,
  type Logger,
  type Probe,
  parseJsonBody,
  type ServiceIdentity,
  sseFrame,
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
}

export function createApp({ identity, runner, log, probes = [] }: KernelDeps): Hono {
  const app = createServiceApp({ identity, registry: new Registry(), log, probes });
  app.post('/v1/dispatch', async (c) => {
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
  return app;
}
