import type { z } from 'zod';
import { AppError } from './errors';

export interface JsonClientOptions {
  /** How errors name the service ("the proxy is unreachable"). */
  name: string;
  baseUrl: string;
  /** Sent as `Authorization: Bearer`, unless a request names its own. */
  token?: string | undefined;
  timeoutMs?: number;
}

export interface JsonRequest {
  method?: string;
  body?: unknown;
  token?: string | undefined;
  timeoutMs?: number;
}

/**
 * Another Beacon service over HTTP: base URL, bearer token, deadline, and an answer parsed by its contract.
 * Unreachable or timed out → 503 `unavailable`; an answer not in its contract's shape → 502 `bad_gateway`.
 */
export function createJsonClient({ name, baseUrl, token, timeoutMs = 5000 }: JsonClientOptions) {
  const base = baseUrl.replace(/\/$/, '');
  const what = (method: string, path: string) => `${method} ${path.split('?')[0]}`;

  /** The raw answer, whatever its status: for callers that give some statuses a meaning of their own. */
  async function send(
    path: string,
    { method = 'GET', body, token: own = token, ...request }: JsonRequest = {},
  ) {
    try {
      return await fetch(`${base}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(own ? { authorization: `Bearer ${own}` } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(request.timeoutMs ?? timeoutMs),
      });
    } catch (err) {
      throw new AppError('unavailable', `the ${name} is unreachable; is it running?`, {}, err);
    }
  }

  /** A successful answer's body, parsed by its contract. */
  async function parse<S extends z.ZodType>(res: Response, schema: S, label: string): Promise<z.infer<S>> {
    const body = await res.json().catch(() => undefined);
    const parsed = schema.safeParse(body);
    if (!parsed.success)
      throw new AppError(
        'bad_gateway',
        `the ${name} answered ${label} in an unexpected shape`,
        {},
        parsed.error,
      );
    return parsed.data;
  }

  return {
    send,
    parse,
    /** A 2xx answer parsed by `schema`; any other status is `unavailable`, naming it. */
    async json<S extends z.ZodType>(path: string, schema: S, request: JsonRequest = {}): Promise<z.infer<S>> {
      const res = await send(path, request);
      const label = what(request.method ?? 'GET', path);
      if (!res.ok) throw new AppError('unavailable', `the ${name} answered ${res.status} for ${label}`);
      return parse(res, schema, label);
    },
  };
}

export type JsonClient = ReturnType<typeof createJsonClient>;
