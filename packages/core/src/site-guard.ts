import { isIP } from 'node:net';
import type { Context, MiddlewareHandler } from 'hono';
import { getConnInfo } from 'hono/bun';
import { AppError } from './errors';

/** Who may reach a service from a browser: the names it answers to and the pages allowed to write to it. */
export interface SiteOptions {
  /** Host names besides loopback, IP literals and single-label names (BEACON_ALLOWED_HOSTS). */
  allowedHosts?: string[] | undefined;
  /** Origins whose pages may write to it (BEACON_ALLOWED_ORIGINS), e.g. `https://console.example.com`. */
  allowedOrigins?: string[] | undefined;
  /** Paths whose bodies are not JSON (artifact uploads); every other write takes only JSON. */
  rawBodyPaths?: string[] | undefined;
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** `example.com:8080` → `example.com`; `[::1]:9000` → `::1`. */
const hostName = (host: string) => {
  const bracketed = host.match(/^\[([^\]]+)\]/);
  return (bracketed ? (bracketed[1] as string) : host.replace(/:\d+$/, '')).toLowerCase();
};

/**
 * A name no web page can be served from under an attacker's control: loopback, an IP literal, or a name of
 * one label (a compose service, a container). A dotted name must be listed: DNS rebinding needs one.
 */
const safeName = (name: string) =>
  name === 'localhost' || name.endsWith('.localhost') || isIP(name) !== 0 || !name.includes('.');

const isJson = (type: string | undefined) =>
  type !== undefined && /^application\/([\w.-]+\+)?json\s*(;|$)/i.test(type);

const hasBody = (c: Context) => c.req.raw.body !== null && c.req.header('content-length') !== '0';

/**
 * What keeps a web page from driving a service on the developer's machine (or behind a firewall): the `Host`
 * must be one of the service's names (421 otherwise: DNS rebinding), a write or a WebSocket upgrade from
 * another site is refused (403: a form, `fetch(mode:'no-cors')`, a cross-origin socket), and a write's body
 * must be JSON (415: a browser cannot send JSON to another origin without a preflight, which nothing here
 * answers).
 */
export function siteGuard({ allowedHosts = [], allowedOrigins = [], rawBodyPaths = [] }: SiteOptions = {}) {
  const hosts = new Set(allowedHosts.map((h) => h.toLowerCase()));
  const origins = new Set(allowedOrigins.map((o) => o.replace(/\/$/, '').toLowerCase()));
  const middleware: MiddlewareHandler = async (c, next) => {
    const host = c.req.header('host');
    if (host !== undefined) {
      const name = hostName(host);
      if (!safeName(name) && !hosts.has(name))
        throw new AppError(
          'misdirected_request',
          `host: ${name} is not a name of this service; an operator adds it to BEACON_ALLOWED_HOSTS`,
        );
    }
    const upgrade = c.req.header('upgrade')?.toLowerCase() === 'websocket';
    if (WRITES.has(c.req.method) || upgrade || c.req.method === 'OPTIONS') {
      const origin = c.req.header('origin')?.toLowerCase();
      const site = c.req.header('sec-fetch-site');
      const crossSite =
        origin !== undefined
          ? origin === 'null' || (originHost(origin) !== host?.toLowerCase() && !origins.has(origin))
          : site === 'cross-site' || site === 'same-site';
      if (crossSite)
        throw new AppError(
          'forbidden',
          `origin: a page of ${origin ?? 'another site'} may not call this service; an operator adds its origin to BEACON_ALLOWED_ORIGINS`,
        );
    }
    if (
      WRITES.has(c.req.method) &&
      hasBody(c) &&
      !isJson(c.req.header('content-type')) &&
      !rawBodyPaths.some((p) => c.req.path.startsWith(p))
    )
      throw new AppError('unsupported_media_type', 'body: send JSON (content-type: application/json)');
    await next();
  };
  return middleware;
}

const originHost = (origin: string) => {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return undefined;
  }
};

/** The caller's address, or `unknown` when the app is called in process (tests). */
export function sourceOf(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Bad credentials counted per source and minute: past `perMinute`, that source's credentialed requests get a
 * 429 with Retry-After until the minute is over. A token is never locked: a holder elsewhere passes.
 */
export function createAuthThrottle(perMinute = 30) {
  const failures = new Map<string, number>();
  let minute = 0;
  const roll = () => {
    const now = Math.floor(Date.now() / 60_000);
    if (now !== minute) {
      minute = now;
      failures.clear();
    }
  };
  return {
    perMinute,
    /** Throws the 429 when `source` is over its failures this minute. */
    check(source: string) {
      roll();
      if ((failures.get(source) ?? 0) < perMinute) return;
      const retry = Math.max(1, 60 - (Math.floor(Date.now() / 1000) % 60));
      throw new AppError('rate_limited', `too many bad credentials from this source; retry in ${retry} s`, {
        'retry-after': String(retry),
      });
    },
    failed(source: string) {
      roll();
      // Bounded: a flood of sources costs a map entry each for at most a minute.
      if (failures.size < 100_000 || failures.has(source))
        failures.set(source, (failures.get(source) ?? 0) + 1);
    },
  };
}

export type AuthThrottle = ReturnType<typeof createAuthThrottle>;
