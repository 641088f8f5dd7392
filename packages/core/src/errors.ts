import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import { ZodError, z } from 'zod';

/** The error codes Beacon answers with, and their HTTP status. */
export const errorStatus = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  length_required: 411,
  misdirected_request: 421,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  bad_gateway: 502,
  unavailable: 503,
  timeout: 504,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof errorStatus;

export class AppError extends Error {
  readonly status: ContentfulStatusCode;
  /** `cause` is logged with the requestId, never shown to the caller. */
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.status = errorStatus[code];
  }
}

const ADDRESS =
  /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'`,;)]+|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b|\/(?:var|run|tmp|dev|home|root)\/[^\s"'`,;)]*/gi;

/** A message safe to show to an unauthenticated caller: no URL, IP address or host path in it. */
export const withoutAddresses = (message: string) => message.replace(ADDRESS, '<address>');

/** "body.limits.memoryMb: expected number" for each zod issue, joined. */
export function describeZodError(error: ZodError, prefix = ''): string {
  return error.issues
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

export function errorBody(code: string, message: string, requestId: string) {
  return { error: { code, message, requestId } };
}

function requestIdOf(c: Context): string {
  return (c.get('requestId' as never) as string | undefined) ?? '';
}

/**
 * A query that failed because the database cannot be reached or cannot write (PostgreSQL away, a SQLite
 * disk full or read-only), not because the query is wrong: a 503, not a 500.
 */
const STORE_AWAY = /ERR_POSTGRES_CONNECTION|ECONNREFUSED|SQLITE_(FULL|IOERR|READONLY|BUSY|CANTOPEN)/;
function storeAway(err: Error): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && STORE_AWAY.test(code)) return true;
  }
  return false;
}

/** One error shape for every service; a 5xx never shows its cause to the caller. */
export function createOnError(log: Logger) {
  return (err: Error, c: Context) => {
    const requestId = requestIdOf(c);
    if (err instanceof AppError) {
      if (err.status < 500)
        return c.json(errorBody(err.code, err.message, requestId), err.status, err.headers);
      log.warn({ event: 'http.error', requestId, code: err.code, err, cause: err.cause }, err.message);
      // The detail (and the cause) stays in the log under the requestId.
      return c.json(errorBody(err.code, withoutAddresses(err.message), requestId), err.status, err.headers);
    }
    if (err instanceof ZodError) {
      return c.json(errorBody('bad_request', describeZodError(err), requestId), 400);
    }
    if (err instanceof HTTPException && err.status === 415)
      return c.json(
        errorBody('unsupported_media_type', 'body: send JSON (content-type: application/json)', requestId),
        415,
      );
    if (err instanceof HTTPException && err.status < 500) {
      // The validator's word for a body that does not parse, said as parseJsonBody says it.
      const message = /malformed json/i.test(err.message)
        ? 'body: invalid JSON'
        : err.message || 'bad request';
      return c.json(errorBody('bad_request', message, requestId), err.status);
    }
    if (diskFull(err)) {
      log.error({ event: 'http.disk_full', requestId, err }, 'the disk is full');
      return c.json(
        errorBody('unavailable', "the service's disk is full; free space and retry", requestId),
        503,
        {
          'retry-after': '30',
        },
      );
    }
    if (storeAway(err)) {
      log.error({ event: 'http.database_unavailable', requestId, err }, 'the database is unavailable');
      return c.json(errorBody('unavailable', 'the database is unavailable; retry shortly', requestId), 503, {
        'retry-after': '5',
      });
    }
    log.error({ event: 'http.unhandled_error', requestId, err }, 'unhandled error');
    return c.json(errorBody('internal', 'internal error', requestId), 500);
  };
}

/** A write the disk refused for room: SQLite's SQLITE_FULL, or ENOSPC from the file system. */
export function diskFull(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
  if (!e) return false;
  if (e.code === 'ENOSPC' || e.code === 'SQLITE_FULL') return true;
  if (typeof e.message === 'string' && /database or disk is full|no space left on device/i.test(e.message))
    return true;
  return e.cause !== undefined && e.cause !== err && diskFull(e.cause);
}

/** Responses produced by notFound, so the HTTP metrics can label them `unmatched`. */
export const unmatchedResponses = new WeakSet<Response>();

export function notFound(c: Context) {
  const res = c.json(
    errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`, requestIdOf(c)),
    404,
  );
  unmatchedResponses.add(res);
  return res;
}

/** A query's time: an ISO date-time with its offset; a bad one is named with an example. */
export const isoDateTime = z.iso.datetime({
  offset: true,
  error: 'must be an ISO date-time (2026-12-01T09:00:00Z)',
});

/** Parse a JSON body with a zod schema; bad JSON or a bad field is a 400 naming it. */
export async function parseJsonBody<T>(
  c: Context,
  schema: { safeParse(v: unknown): ZodSafe<T> },
): Promise<T> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new AppError('bad_request', 'body: invalid JSON');
  }
  return parseWith(schema, raw, 'body');
}

type ZodSafe<T> = { success: true; data: T } | { success: false; error: ZodError };

export function parseWith<T>(
  schema: { safeParse(v: unknown): ZodSafe<T> },
  value: unknown,
  prefix: string,
): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new AppError('bad_request', describeZodError(result.error, prefix));
  return result.data;
}
