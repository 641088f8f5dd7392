import { hostname } from 'node:os';
import pino, { type DestinationStream, type Logger } from 'pino';
import pinoLoki from 'pino-loki';

export type { Logger };

export interface LoggerOptions {
  service: string;
  level?: string;
  destination?: DestinationStream;
  /** BEACON_LOKI_URL: also push every line to Loki (pino-loki, batched every second). */
  lokiUrl?: string | undefined;
}

/** pino-loki reads pino's numeric levels; Beacon's lines carry the label. */
const LOKI_LEVELS = {
  trace: 'debug',
  debug: 'debug',
  info: 'info',
  warn: 'warning',
  error: 'error',
  fatal: 'critical',
};

/**
 * A line as pino-loki reads it: its own time (not the push's), its trace as structured metadata (Grafana
 * opens the trace from the line), the rest as written.
 */
function forLoki(line: string): string {
  const entry = JSON.parse(line) as Record<string, unknown>;
  const meta: Record<string, string> = {};
  // The keys Alloy's pipeline writes for container logs (distro/observability/alloy): one search finds both.
  if (typeof entry.traceId === 'string') meta.trace_id = entry.traceId;
  if (typeof entry.spanId === 'string') meta.span_id = entry.spanId;
  const time = Date.parse(String(entry.timestamp));
  return `${JSON.stringify({ ...entry, time: Number.isFinite(time) ? time : Date.now(), meta })}\n`;
}

/**
 * The stream to Loki: labels bounded (job, type, service, level, instance = the host name), the trace as structured
 * metadata. A push that fails is dropped, never retried into memory or thrown at a request: pino-loki sends
 * in the background, and the service's Loki check (serve.ts) counts and reports the outage.
 */
function lokiStream(url: string, service: string): DestinationStream {
  const loki = pinoLoki({
    // pino-loki resolves its endpoint against the host: a base URL with a path needs its trailing slash.
    host: `${url.replace(/\/$/, '')}/`,
    labels: { job: 'beacon', type: 'service', service, instance: hostname() },
    batching: { interval: 1, maxBufferSize: 10_000 },
    silenceErrors: true,
    timeout: 5000,
    structuredMetaKey: 'meta',
    levelMap: LOKI_LEVELS as unknown as Record<number, 'info'>,
  });
  return { write: (line: string) => loki.write(forLoki(line)) };
}

const SECRETS = new Set(['authorization', 'password', 'secret', 'token', 'apiKey']);

/**
 * A line's secrets one level down (`headers.authorization`, `body.password`, …) read `[redacted]`; a child's
 * bindings (trace ids, fixed fields) are not looked at. Not pino's `redact` option: with a wildcard path it
 * clones and walks every field of every line, and it was half of the proxy's logging CPU at 32 connections
 * (profiled: 5 % of the process, a line per call at info).
 */
function censored(fields: Record<string, unknown>): Record<string, unknown> {
  let out = fields;
  for (const key in fields) {
    const value = fields[key];
    if (!value || typeof value !== 'object' || Array.isArray(value)) continue;
    const hits = Object.keys(value).filter((k) => SECRETS.has(k));
    if (hits.length === 0) continue;
    if (out === fields) out = { ...fields };
    out[key] = { ...value, ...Object.fromEntries(hits.map((k) => [k, '[redacted]'])) };
  }
  return out;
}

/**
 * JSON lines: {timestamp, level, service, event, traceId?, spanId?, ...fields, msg}.
 * Callers pass `event` (e.g. `container.started`) and, within a traced request, `log.child(traceFields(span))`.
 */
export function createLogger({ service, level = 'info', destination, lokiUrl }: LoggerOptions): Logger {
  // Written before the call returns: pino.destination(1) writes through the thread pool, and a process that exits
  // just after a line (a port taken) lost it about one run in ten; synchronous also cost less CPU per line.
  const out = destination ?? pino.destination({ dest: 1, sync: true });
  return pino(
    {
      level,
      base: { service },
      messageKey: 'msg',
      timestamp: () => `,"timestamp":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }), log: censored },
    },
    lokiUrl
      ? pino.multistream([
          { stream: out, level: level as pino.Level },
          { stream: lokiStream(lokiUrl, service), level: level as pino.Level },
        ])
      : out,
  );
}
