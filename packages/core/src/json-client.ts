import type { z } from 'zod';
import { AppError } from './errors';

export interface JsonClientOptions {
  /** How errors name the service ("the proxy is unreachable"). */
  name: string;
  baseUrl: string;
  /** Sent as `Authorization: Bearer`, unless a request names its own. */
  token?: string | undefined;
  timeoutMs?: number;
  /**
   * The error for an answer that is not 2xx (default: `unavailable`, naming the status, the route and what
   * the service said, when it said it in Beacon's error shape).
   */
  refused?: (status: number, label: string, said: string | undefined) => AppError;
}

export interface JsonRequest {
  method?: string;
  body?: unknown;
  token?: string | undefined;
  timeoutMs?: number;
}

/** What a refusal says, from Beacon's error shape; an empty or non-JSON body says nothing. */
async function saidIn(res: Response): Promise<string | undefined> {
  const text = await res.text().catch(() => '');
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } })?.error?.message;
    return typeof message === 'string' ? message.slice(0, 300) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Another Beacon service over HTTP: base URL, bearer token, deadline, and an answer parsed by its contract.
 * Unreachable or timed out → 503 `unavailable`; an answer not in its contract's shape → 502 `bad_gateway`.
 */
export function createJsonClient({
  name,
  baseUrl,
  token,
  timeoutMs = 5000,
  refused = (status, label, said) =>
    new AppError('unavailable', `the ${name} answered ${status} for ${label}${said ? `: ${said}` : ''}`),
}: JsonClientOptions) {
  const base = baseUrl.replace(/\/$/, '');

  /** The raw answer, whatever its status: for callers that give some statuses a meaning of their own. */
  async function send(
    path: string,
    { method = 'GET', body, token: own = token, timeoutMs: deadline = timeoutMs }: JsonRequest = {},
  ) {
    try {
      return await fetch(`${base}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(own ? { authorization: `Bearer ${own}` } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(deadline),
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
    saidIn,
    /** A 2xx answer parsed by `schema`; any other status is `refused`. */
    async json<S extends z.ZodType>(path: string, schema: S, request: JsonRequest = {}): Promise<z.infer<S>> {
      const res = await send(path, request);
      const label = `${request.method ?? 'GET'} ${path.split('?')[0]}`;
      if (!res.ok) throw refused(res.status, label, await saidIn(res));
      return parse(res, schema, label);
    },
  };
}
