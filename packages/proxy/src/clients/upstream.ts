import type { Logger } from '@beacon/core';
import type { Provider } from '../domain/prices';
import type { Routes, UpstreamEntry } from '../domain/routing';

export interface UpstreamCall {
  traceId: string;
  /** The upstream span's W3C trace context, passed on to the provider. */
  traceparent: string;
  /** Anthropic's version and beta headers, passed on as the caller sent them. */
  anthropicVersion?: string | undefined;
  anthropicBeta?: string | undefined;
}

export interface UpstreamRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Under the upstream's base URL: `/responses`, `/responses/resp_1/cancel`. */
  path: string;
  body?: string | undefined;
  call: UpstreamCall;
}

/** An answer worth another key or upstream: rate-limited or failing on the provider's side. */
const retryable = (status: number) => status === 429 || status >= 500;
const MAX_REST_MS = 300_000;

/** How long a key rests after a 429 or 5xx: the provider's retry-after, else 1 s doubling to a minute. */
function restOf(res: Response | undefined, failures: number) {
  const ms = Number(res?.headers.get('retry-after-ms'));
  if (ms > 0) return Math.min(ms, MAX_REST_MS);
  const seconds = Number(res?.headers.get('retry-after'));
  if (seconds > 0) return Math.min(seconds * 1000, MAX_REST_MS);
  return Math.min(60_000, 1000 * 2 ** Math.min(failures, 6));
}

interface Slot {
  upstream: string;
  key: string | undefined;
  restedUntil: number;
  failures: number;
}

/**
 * The upstreams the proxy forwards to, with Beacon's own keys (never the caller's). A call goes to the
 * upstreams its model is routed to, in order, each one's keys in turn; a key answered 429 or 5xx (or an
 * upstream that cannot be reached) is rested and the call tries the next, before any byte reached the caller.
 */
export function createUpstreamClient(
  routes: Routes,
  timeoutMs: number,
  log: Logger,
  {
    failover,
    env = process.env,
  }: { failover?: (upstream: string) => void; env?: Record<string, string | undefined> } = {},
) {
  const slots = new Map<string, Slot[]>();
  const turn = new Map<string, number>();
  for (const [name, entry] of Object.entries(routes.upstreams)) {
    const keys = entry.keys.map((k) => (k.startsWith('env:') ? env[k.slice(4)] : k));
    const present = keys.filter((k): k is string => Boolean(k));
    if (keys.length > present.length)
      log.warn(
        { event: 'proxy.upstream_key_missing', upstream: name },
        `an env: key of upstream ${name} is not set`,
      );
    slots.set(
      name,
      (present.length ? present : [undefined]).map((key) => ({
        upstream: name,
        key,
        restedUntil: 0,
        failures: 0,
      })),
    );
  }

  /** This call's order: each upstream's keys from its next turn, resting ones last (tried only if all rest). */
  function order(names: string[], now: number): Slot[] {
    const all: Slot[] = [];
    for (const name of names) {
      const own = slots.get(name) ?? [];
      const start = turn.get(name) ?? 0;
      turn.set(name, (start + 1) % Math.max(1, own.length));
      for (let i = 0; i < own.length; i++) all.push(own[(start + i) % own.length] as Slot);
    }
    const awake = all.filter((s) => s.restedUntil <= now);
    return awake.length ? awake : all.sort((a, b) => a.restedUntil - b.restedUntil).slice(0, 1);
  }

  function headersOf(entry: UpstreamEntry, key: string | undefined, req: UpstreamRequest) {
    const headers: Record<string, string> = {
      'x-beacon-trace-id': req.call.traceId,
      traceparent: req.call.traceparent,
    };
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    if (entry.kind === 'openai') {
      if (key) headers.authorization = `Bearer ${key}`;
    } else {
      if (key) headers['x-api-key'] = key;
      headers['anthropic-version'] = req.call.anthropicVersion ?? '2023-06-01';
      if (req.call.anthropicBeta) headers['anthropic-beta'] = req.call.anthropicBeta;
    }
    return headers;
  }

  async function attempt(names: string[], req: UpstreamRequest, signal: AbortSignal) {
    const tried = order(names, Date.now());
    for (const [i, slot] of tried.entries()) {
      const entry = routes.upstreams[slot.upstream] as UpstreamEntry;
      let res: Response | undefined;
      let error: unknown;
      try {
        res = await fetch(entry.baseUrl.replace(/\/$/, '') + req.path, {
          method: req.method,
          headers: headersOf(entry, slot.key, req),
          ...(req.body !== undefined ? { body: req.body } : {}),
          signal,
        });
      } catch (err) {
        if (signal.aborted) throw err;
        error = err;
      }
      if (res && !retryable(res.status)) {
        slot.failures = 0;
        return { response: res, upstream: slot.upstream };
      }
      slot.failures++;
      slot.restedUntil = Date.now() + restOf(res, slot.failures);
      if (i === tried.length - 1) {
        if (res) return { response: res, upstream: slot.upstream };
        throw error;
      }
      log.warn(
        {
          event: 'proxy.upstream_failover',
          upstream: slot.upstream,
          status: res?.status ?? 'unreachable',
          traceId: req.call.traceId,
        },
        `upstream ${slot.upstream} answered ${res?.status ?? 'nothing'}; trying the next key or upstream`,
      );
      failover?.(slot.upstream);
      await res?.body?.cancel().catch(() => {});
    }
    throw new Error('no upstream is routed for this model');
  }

  return {
    timeoutMs,
    /** The upstreams that serve `model` for an API of this kind (none: the model is not routed). */
    candidates: (model: string, kind: Provider) => routes.candidates(model, kind),
    /**
     * Sends one request to the first of `upstreams` that answers it; `signal` tells a timeout (aborted) from
     * other failures, also while the body is read. The answer says which upstream gave it.
     */
    send(upstreams: string[], req: UpstreamRequest) {
      const signal = AbortSignal.timeout(timeoutMs);
      return { signal, answer: attempt(upstreams, req, signal) };
    },
  };
}

export type UpstreamClient = ReturnType<typeof createUpstreamClient>;
