import {
  AppError,
  type AuditTrail,
  failure,
  jsonAnswer,
  type Logger,
  openRouter,
  setAuditTarget,
} from '@beacon/core';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import type { ArtifactStore } from '../clients/artifact-store';
import { keyProblem } from '../domain/artifact-keys';
import type { GatewayMetrics } from '../metrics';

export type ArtifactMode = 'off' | 'warn' | 'enforce';
type Op = 'put' | 'get' | 'delete' | 'list';

export interface ArtifactDeps {
  store: ArtifactStore;
  mode: ArtifactMode;
  maxBytes: number;
  metrics: GatewayMetrics;
  log: Logger;
  audited: AuditTrail['audited'];
  /** The user API's token (BEACON_API_TOKEN); open without one. */
  userAuth: MiddlewareHandler;
}

/** Where the artifact routes are mounted: a key is the raw path after it. */
export const ARTIFACTS_PREFIX = '/api/artifacts';
const MAX_LIST = 1000;

const listRoute = createRoute({
  method: 'get',
  path: '/',
  request: {
    query: z.object({
      prefix: z.string().max(1024).default(''),
      limit: z.coerce.number().int().min(1).max(MAX_LIST).default(MAX_LIST),
    }),
  },
  responses: {
    200: jsonAnswer(
      z.object({
        prefix: z.string(),
        artifacts: z.array(z.looseObject({ key: z.string() })),
        error: z.string().optional(),
      }),
      'the artifacts under the prefix; with BEACON_ARTIFACT_MODE=warn and the store away, none and why',
    ),
    400: failure('the prefix or limit is wrong'),
  },
});

/**
 * Mounted at /api/artifacts: POST|GET|DELETE /<key>, GET /?prefix=&limit=. A key is a path (slashes and all)
 * read from the raw URL, so the key routes are plain routes; bodies stream both ways.
 * A store failure: `enforce` answers 502; `warn` logs it and answers softly (not stored, not found, empty).
 */
export function artifactRoutes({ store, mode, maxBytes, metrics, log, audited, userAuth }: ArtifactDeps) {
  const app = openRouter(userAuth);
  const count = (op: Op, status: 'ok' | 'not_found' | 'rejected' | 'error') =>
    metrics.artifactOps.inc({ op, status });

  if (mode === 'off') {
    const off = () => {
      throw new AppError('unavailable', 'artifacts are switched off (BEACON_ARTIFACT_MODE=off)');
    };
    app.all('/', off);
    app.all('/*', off);
    return app;
  }

  const reject = (
    op: Op,
    message: string,
    code: 'bad_request' | 'length_required' | 'payload_too_large' = 'bad_request',
  ) => {
    count(op, 'rejected');
    return new AppError(code, message);
  };

  function keyOf(c: Context, op: Op): string {
    let key: string;
    try {
      // The raw path, percent-decoded exactly once.
      key = decodeURIComponent(new URL(c.req.url).pathname.slice(ARTIFACTS_PREFIX.length + 1));
    } catch {
      throw reject(op, 'key: not valid percent-encoding');
    }
    const problem = keyProblem(key);
    if (problem) throw reject(op, `key: ${problem}`);
    return key;
  }

  /** One store operation; a failure becomes a 502 (enforce) or the soft answer (warn). */
  async function attempt<T, R>(
    op: Op,
    key: string,
    fn: () => Promise<T>,
    soft: (message: string) => R,
  ): Promise<T | R> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AppError && err.status < 500) {
        count(op, 'rejected');
        throw err;
      }
      count(op, 'error');
      const message = `artifact store (${store.kind}) could not ${op} ${key || 'the list'}`;
      log.warn({ event: 'artifact.store_failed', op, key, store: store.kind, err: String(err) }, message);
      if (mode === 'enforce') throw new AppError('bad_gateway', message);
      return soft(message);
    }
  }

  /** get and delete: nothing there (undefined or false) is a 404, and so, in `warn` mode, is a failing store. */
  async function existing<T>(op: 'get' | 'delete', key: string, fn: () => Promise<T | undefined>) {
    const found = await attempt(op, key, fn, (message): never => {
      throw new AppError('not_found', message);
    });
    if (!found) {
      count(op, 'not_found');
      throw new AppError('not_found', `no artifact ${key}`);
    }
    count(op, 'ok');
    return found;
  }

  // Before the key routes: `/*` matches `/` too.
  app.openapi(listRoute, async (c) => {
    const { prefix, limit } = c.req.valid('query');
    const problem = keyProblem(prefix, { prefix: true });
    if (problem) throw reject('list', `prefix: ${problem}`);
    const artifacts = await attempt(
      'list',
      '',
      () => store.list(prefix, limit),
      (error) => ({ error }),
    );
    if ('error' in artifacts) return c.json({ prefix, artifacts: [], error: artifacts.error }, 200);
    count('list', 'ok');
    return c.json({ prefix, artifacts }, 200);
  });

  app.post('/*', audited('artifact.put'), async (c) => {
    const key = keyOf(c, 'put');
    setAuditTarget(c, key);
    const declared = c.req.header('content-length');
    if (declared === undefined)
      throw reject('put', 'content-length: required for uploads', 'length_required');
    const size = Number(declared);
    if (!Number.isSafeInteger(size) || size < 0) throw reject('put', 'content-length: not a byte count');
    if (size > maxBytes)
      throw reject('put', `body: ${size} bytes is over the ${maxBytes}-byte limit`, 'payload_too_large');
    const contentType = c.req.header('content-type') ?? 'application/octet-stream';
    const body = c.req.raw.body ?? new Blob([]).stream();
    const stored = await attempt(
      'put',
      key,
      () => store.put(key, body, size, contentType),
      (error) => c.json({ stored: false, key, size: 0, etag: null, error }),
    );
    if (stored instanceof Response) return stored;
    count('put', 'ok');
    return c.json({ stored: true, ...stored }, 201);
  });

  app.get('/*', async (c) => {
    const key = keyOf(c, 'get');
    const object = await existing('get', key, () => store.get(key));
    const name = key.split('/').at(-1) ?? 'artifact';
    return new Response(object.body, {
      headers: {
        'content-type': object.contentType,
        'content-length': String(object.size),
        etag: `"${object.etag}"`,
        'last-modified': new Date(object.lastModified).toUTCString(),
        // An artifact is a file to save, never a page of this origin: an .html one must not run here.
        'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(name)}`,
        'x-content-type-options': 'nosniff',
        'content-security-policy': 'sandbox',
      },
    });
  });

  app.delete('/*', audited('artifact.delete'), async (c) => {
    const key = keyOf(c, 'delete');
    setAuditTarget(c, key);
    await existing('delete', key, () => store.delete(key));
    return c.body(null, 204);
  });

  return app;
}
