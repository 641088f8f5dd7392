import type { Provider } from '../domain/prices';

export interface Upstream {
  url: string;
  key?: string | undefined;
}

const PATHS: Record<Provider, string> = { openai: '/v1/chat/completions', anthropic: '/v1/messages' };

export interface UpstreamCall {
  traceId: string;
  /** The upstream span's W3C trace context, passed on to the provider. */
  traceparent: string;
  /** Anthropic's version and beta headers, passed on as the caller sent them. */
  anthropicVersion?: string | undefined;
  anthropicBeta?: string | undefined;
}

/** The AI providers the proxy forwards to, with Beacon's own upstream keys (never the caller's). */
export function createUpstreamClient(upstreams: Record<Provider, Upstream>, timeoutMs: number) {
  return {
    timeoutMs,
    /** POST one call; `signal` tells a timeout (aborted) from other failures, also while the body is read. */
    send(provider: Provider, body: string, call: UpstreamCall) {
      const upstream = upstreams[provider];
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'x-beacon-trace-id': call.traceId,
        traceparent: call.traceparent,
      };
      if (provider === 'openai') {
        if (upstream.key) headers.authorization = `Bearer ${upstream.key}`;
      } else {
        if (upstream.key) headers['x-api-key'] = upstream.key;
        headers['anthropic-version'] = call.anthropicVersion ?? '2023-06-01';
        if (call.anthropicBeta) headers['anthropic-beta'] = call.anthropicBeta;
      }
      const signal = AbortSignal.timeout(timeoutMs);
      const response = fetch(upstream.url.replace(/\/$/, '') + PATHS[provider], {
        method: 'POST',
        headers,
        body,
        signal,
      });
      return { signal, response };
    },
  };
}

export type UpstreamClient = ReturnType<typeof createUpstreamClient>;
