import {
  AppError,
  describeZodError,
  failure,
  HANDLE_PATTERN,
  jsonAnswer,
  jsonBody,
  openRouter,
} from '@beacon/core';
import { createRoute } from '@hono/zod-openapi';
import { Hono, type MiddlewareHandler } from 'hono';
import type { UpgradeWebSocket } from 'hono/ws';
import { z } from 'zod';
import type { Dispatcher } from '../dispatcher';
import type { GatewayMetrics } from '../metrics';

const messageSchema = z.object({
  handle: z.string().regex(HANDLE_PATTERN, 'must be a container handle'),
  text: z.string().min(1).max(100_000),
  source: z.enum(['web', 'api', 'channel']).default('api'),
  sessionId: z.string().max(200).optional(),
  async: z.boolean().default(false),
});

const wsMessage = z.object({
  type: z.literal('message'),
  text: z.string().min(1).max(100_000),
  sessionId: z.string().max(200).optional(),
});

/** A frame from the web shell: JSON first, then the shape; the problem is named, never thrown. */
function parseFrame(data: unknown): z.infer<typeof wsMessage> | string {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof data === 'string' ? data : String(data));
  } catch {
    return 'frame: invalid JSON; send {"type":"message","text":"…"}';
  }
  const parsed = wsMessage.safeParse(raw);
  return parsed.success ? parsed.data : describeZodError(parsed.error, 'frame');
}

const STATUS_CODE = { ok: 200, error: 502, timeout: 504, cancelled: 409 } as const;

const answer = z.object({
  taskId: z.string(),
  traceId: z.string(),
  status: z.enum(['ok', 'error', 'timeout', 'cancelled']),
  result: z.looseObject({}).nullable(),
  error: z.looseObject({ code: z.string(), message: z.string() }).nullable(),
});
const send = createRoute({
  method: 'post',
  path: '/',
  request: { body: jsonBody(messageSchema) },
  responses: {
    200: jsonAnswer(answer, "the kernel's answer"),
    202: jsonAnswer(z.object({ taskId: z.string(), traceId: z.string() }), 'async: stored for the kernel'),
    400: failure('a field is wrong'),
    404: failure('no container with that handle'),
    409: jsonAnswer(answer, 'cancelled'),
    502: jsonAnswer(answer, 'the kernel answered with an error'),
    503: failure('the container is not running, or the bus is away'),
    504: jsonAnswer(answer, 'no answer within the dispatch timeout'),
  },
});

/** POST /api/message: one message to a container's kernel (user API). */
export function messageRoutes({
  dispatcher,
  userAuth,
}: {
  dispatcher: Dispatcher;
  userAuth: MiddlewareHandler;
}) {
  return openRouter(userAuth).openapi(send, async (c) => {
    const { async: isAsync, ...req } = c.req.valid('json');
    // Unknown or stopped handles are refused here rather than left to time out.
    await dispatcher.ensureRunning(req.handle);
    const { task, accepted, done } = dispatcher.dispatch({
      ...req,
      traceparent: c.req.header('traceparent'),
    });
    if (isAsync) {
      // 202 only once the command is stored for its kernel: an outage is a 503 now, not a silent timeout.
      await accepted;
      return c.json({ taskId: task.id, traceId: task.traceId }, 202);
    }
    const { status } = await done;
    if (task.error?.code === 'unavailable')
      throw new AppError('unavailable', task.error.message, { 'retry-after': '5' });
    return c.json(
      {
        taskId: task.id,
        traceId: task.traceId,
        status,
        result: task.result ?? null,
        error: task.error ?? null,
      },
      STATUS_CODE[status],
    );
  });
}

/** The web shell: WS /ws?handle= (`streamAuth` takes ?token=: browsers cannot set headers on a WebSocket). */
export function shellRoutes({
  dispatcher,
  metrics,
  upgradeWebSocket,
  streamAuth,
}: {
  dispatcher: Dispatcher;
  metrics: GatewayMetrics;
  upgradeWebSocket: UpgradeWebSocket;
  streamAuth: MiddlewareHandler;
}) {
  return new Hono().get(
    '/',
    streamAuth,
    upgradeWebSocket((c) => {
      const handle = c.req.query('handle') ?? '';
      return {
        onOpen(_e, ws) {
          metrics.wsConnections.inc();
          if (!HANDLE_PATTERN.test(handle)) {
            ws.send(
              JSON.stringify({
                type: 'error',
                error: { code: 'bad_request', message: 'query.handle: required' },
              }),
            );
            ws.close(1008, 'handle required');
          }
        },
        onClose() {
          metrics.wsConnections.dec();
        },
        onMessage(event, ws) {
          if (!HANDLE_PATTERN.test(handle)) return;
          const frame = parseFrame(event.data);
          if (typeof frame === 'string') {
            metrics.wsBadFrames.inc();
            ws.send(JSON.stringify({ type: 'error', error: { code: 'bad_request', message: frame } }));
            return;
          }
          void dispatcher
            .dispatch({
              handle,
              text: frame.text,
              source: 'web',
              ...(frame.sessionId ? { sessionId: frame.sessionId } : {}),
              onUpdate: (u) => {
                if (u.type === 'task.progress')
                  ws.send(JSON.stringify({ type: 'progress', taskId: u.task.id, ...u.data }));
              },
            })
            .done.then(({ status, task }) => {
              ws.send(
                JSON.stringify(
                  status === 'ok'
                    ? { type: 'result', taskId: task.id, traceId: task.traceId, ...task.result }
                    : { type: 'error', taskId: task.id, traceId: task.traceId, status, error: task.error },
                ),
              );
            })
            .catch(() => {});
        },
      };
    }),
  );
}
