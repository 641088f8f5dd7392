import { AppError, adminAuth, failure, jsonAnswer, openRouter } from '@beacon/core';
import { createRoute, z } from '@hono/zod-openapi';
import { type Context, Hono, type Next } from 'hono';
import { toView } from '../domain/container-view';
import type { Fleet, FleetHost, FleetView } from '../fleet';
import type { ContainerService } from '../lifecycle/containers';

/** Set on a request one platform passes to another: the receiver answers it itself, never passes it on. */
const FORWARDED_HEADER = 'x-beacon-forwarded-by';

export interface FleetRoutesDeps {
  fleet: Fleet;
  containers: Pick<ContainerService, 'find' | 'list'>;
  /** Every platform of a fleet shares it: a forwarded request carries it. */
  adminToken?: string | undefined;
}

/** The fleet's database away: what needs another host is refused by name; this host's own still works. */
const fleetAway = (err: unknown): never => {
  if (err instanceof AppError) throw err;
  throw new AppError('unavailable', "the fleet's database is unavailable: other hosts cannot be reached now");
};

/**
 * Mounted at /api/containers in front of the container routes when there are several Docker hosts: the list
 * is every host's; a request for a handle on another host, or a create placed there, is passed to that
 * host's platform and its answer returned as it is. Answers name hosts by their id, never by address.
 */
export function fleetForwarding({ fleet, containers, adminToken }: FleetRoutesDeps) {
  const app = new Hono();
  const guard = adminAuth(adminToken);

  async function forward(c: Context, to: FleetHost, body?: string): Promise<Response> {
    if (to.state !== 'up')
      throw new AppError(
        'unavailable',
        `host ${to.host} is ${to.state === 'lost' ? 'lost' : 'without its engine'}`,
      );
    const url = new URL(c.req.url);
    const headers: Record<string, string> = { [FORWARDED_HEADER]: fleet.host };
    const type = c.req.header('content-type');
    if (type) headers['content-type'] = type;
    if (adminToken) headers.authorization = `Bearer ${adminToken}`;
    let res: Response;
    try {
      res = await fetch(`${to.url.replace(/\/$/, '')}${url.pathname}${url.search}`, {
        method: c.req.method,
        headers,
        ...(body !== undefined ? { body } : {}),
        // A create waits for the container's health check (60 s by default).
        signal: AbortSignal.timeout(90_000),
      });
    } catch {
      throw new AppError('bad_gateway', `the platform of host ${to.host} did not answer`);
    }
    return new Response(res.body, {
      status: res.status,
      headers: { 'content-type': res.headers.get('content-type') ?? 'application/json' },
    });
  }

  const forwarded = (c: Context) => c.req.header(FORWARDED_HEADER) !== undefined;
  /** A handle this platform does not hold: answered by the platform of its host, if it has one. */
  const byHandle = async (c: Context, next: Next) => {
    const handle = c.req.param('handle') ?? '';
    if (forwarded(c) || containers.find(handle)) return next();
    const at = await fleet.locate(handle).catch(fleetAway);
    if (!at || at.host === fleet.host) return next();
    return forward(c, at, ['GET', 'HEAD'].includes(c.req.method) ? undefined : await c.req.text());
  };
  // What this platform changed is in the fleet before its answer goes out (a placement's caller may ask
  // another platform next).
  const published = async (c: Context, next: Next) => {
    await next();
    if (c.req.method !== 'GET') await fleet.sync();
  };
  app.use(guard, published);
  app.use('/:handle', byHandle);
  app.use('/:handle/*', byHandle);

  app.post('/', async (c, next) => {
    if (forwarded(c)) return next();
    const text = await c.req.text();
    let requested: unknown;
    try {
      requested = (JSON.parse(text) as { host?: unknown })?.host;
    } catch {
      return next(); // the container route names the invalid JSON
    }
    if (requested === fleet.host) return next();
    const to = await fleet.place(typeof requested === 'string' ? requested : undefined).catch(fleetAway);
    return to.host === fleet.host ? next() : forward(c, to, text);
  });

  app.get('/', async (c) => {
    const own = containers.list().map((row) => ({ ...toView(row), host: fleet.host }));
    let others: FleetView[];
    try {
      others = (await fleet.list()).filter((v) => v.host !== fleet.host);
    } catch {
      return c.json({
        containers: own,
        warning: "the fleet's database is unavailable: this host's containers only",
      });
    }
    return c.json({ containers: [...own, ...others].sort((a, b) => a.handle.localeCompare(b.handle)) });
  });

  return app;
}

const hosts = createRoute({
  method: 'get',
  path: '/',
  responses: {
    200: jsonAnswer(
      z.object({ self: z.string(), hosts: z.array(z.looseObject({ host: z.string(), state: z.string() })) }),
      "the fleet's hosts and whether each is up, by id (never by address)",
    ),
    503: failure("the fleet's database is unavailable"),
  },
});

/** GET /api/hosts: the fleet's hosts (admin token). */
export function hostRoutes({ fleet, adminToken }: Pick<FleetRoutesDeps, 'fleet' | 'adminToken'>) {
  return openRouter(adminAuth(adminToken)).openapi(hosts, async (c) =>
    c.json({ self: fleet.host, hosts: await fleet.hosts().catch(fleetAway) }, 200),
  );
}
