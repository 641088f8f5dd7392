/**
 * TEST DOUBLES of what Beacon reports to, none of which can run on this machine, each speaking the wire
 * format as documented:
 * - an OTLP/HTTP trace receiver (`POST /v1/traces`, OTLP JSON encoding: ids as hex strings), as Tempo or
 *   Jaeger take it;
 * - Langfuse: its OpenTelemetry ingestion (`POST /api/public/otel/v1/traces`, Basic auth public:secret),
 *   `GET /api/public/health`, and the public API the session summary reads (`GET /api/public/v2/observations`
 *   by sessionId, cursor pages), answered from the generations it received;
 * - Loki: `POST /loki/api/v1/push` (JSON, as pino-loki sends it; protobuf+snappy is what Alloy sends and not
 *   used by Beacon's services), `GET /ready`, and `GET /loki/api/v1/query_range` for the LogQL subset
 *   Beacon's search writes: a `{k="v", …}` selector, `|~ "(?i)text"`, `| trace_id="…"`.
 */

export interface OtlpSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  attributes: Record<string, unknown>;
  status?: { code?: number; message?: string };
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}

const otlpValue = (v: OtlpValue): unknown =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.doubleValue ?? v.boolValue));

const attributesOf = (list: { key: string; value: OtlpValue }[] = []) =>
  Object.fromEntries(list.map((a) => [a.key, otlpValue(a.value)]));

interface OtlpRequest {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: OtlpValue }[] };
    scopeSpans?: {
      spans?: (Omit<OtlpSpan, 'service' | 'attributes'> & {
        attributes?: { key: string; value: OtlpValue }[];
      })[];
    }[];
  }[];
}

/** Decodes an OTLP/HTTP JSON export into flat spans. */
export function decodeOtlp(body: OtlpRequest): OtlpSpan[] {
  const spans: OtlpSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const service = String(attributesOf(rs.resource?.attributes)['service.name'] ?? '');
    for (const ss of rs.scopeSpans ?? [])
      for (const s of ss.spans ?? [])
        spans.push({
          service,
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          name: s.name,
          attributes: attributesOf(s.attributes),
          ...(s.status ? { status: s.status } : {}),
        });
  }
  return spans;
}

async function otlpBody(req: Request): Promise<OtlpRequest> {
  if (!req.headers.get('content-type')?.includes('json'))
    throw new Error(`OTLP content-type ${req.headers.get('content-type')}: this double reads JSON`);
  return (await req.json()) as OtlpRequest;
}

/** An OTLP/HTTP collector. */
export function startOtlpReceiver(hostname = '127.0.0.1') {
  const spans: OtlpSpan[] = [];
  const server = Bun.serve({
    hostname,
    port: 0,
    async fetch(req) {
      if (req.method === 'POST' && new URL(req.url).pathname === '/v1/traces') {
        spans.push(...decodeOtlp(await otlpBody(req)));
        return Response.json({});
      }
      return new Response('not found', { status: 404 });
    },
  });
  return { url: `http://${hostname}:${server.port}`, spans, stop: () => server.stop(true) };
}

export const LANGFUSE_KEYS = { publicKey: 'pk-lf-test', secretKey: 'sk-lf-test' };

/** Langfuse's ingestion and the public API's observations, from what it ingested. */
export function startLangfuse(hostname = '127.0.0.1') {
  const generations: OtlpSpan[] = [];
  const refused: string[] = [];
  let observationReads = 0;
  const expected = `Basic ${Buffer.from(`${LANGFUSE_KEYS.publicKey}:${LANGFUSE_KEYS.secretKey}`).toString('base64')}`;
  const server = Bun.serve({
    hostname,
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === '/api/public/health') return Response.json({ status: 'OK', version: '3' });
      if (req.headers.get('authorization') !== expected) {
        refused.push(url.pathname);
        return Response.json({ message: 'Invalid credentials' }, { status: 401 });
      }
      if (req.method === 'POST' && url.pathname === '/api/public/otel/v1/traces') {
        generations.push(...decodeOtlp(await otlpBody(req)));
        return Response.json({});
      }
      if (req.method === 'GET' && url.pathname === '/api/public/v2/observations') {
        observationReads++;
        const session = url.searchParams.get('sessionId');
        const data = generations
          .filter((g) => g.attributes['session.id'] === session)
          .map((g) => ({
            id: g.spanId,
            traceId: g.traceId,
            startTime: new Date().toISOString(),
            endTime: new Date().toISOString(),
            projectId: 'p',
            parentObservationId: g.parentSpanId || null,
            type: String(g.attributes['langfuse.observation.type'] ?? 'span').toUpperCase(),
            name: g.name,
            level: g.attributes['langfuse.observation.level'] ?? 'DEFAULT',
            totalCost:
              JSON.parse(String(g.attributes['langfuse.observation.cost_details'] ?? '{}')).total ?? 0,
          }));
        return Response.json({ data, meta: {} });
      }
      return new Response('not found', { status: 404 });
    },
  });
  return {
    url: `http://${hostname}:${server.port}`,
    generations,
    refused,
    get observationReads() {
      return observationReads;
    },
    stop: () => server.stop(true),
  };
}

export interface LokiEntry {
  labels: Record<string, string>;
  ns: string;
  line: string;
  metadata: Record<string, string>;
}

/** Loki: pushes kept in memory, and query_range over them for the LogQL subset named above. */
export function startLoki(hostname = '127.0.0.1') {
  const entries: LokiEntry[] = [];
  const server = Bun.serve({
    hostname,
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === '/ready') return new Response('ready');
      if (req.method === 'POST' && url.pathname === '/loki/api/v1/push') {
        if (!req.headers.get('content-type')?.includes('json'))
          return new Response('this double reads JSON pushes', { status: 415 });
        const body = (await req.json()) as {
          streams: { stream: Record<string, string>; values: [string, string, Record<string, string>?][] }[];
        };
        for (const s of body.streams)
          for (const [ns, line, metadata] of s.values)
            entries.push({ labels: s.stream, ns, line, metadata: metadata ?? {} });
        return new Response(null, { status: 204 });
      }
      if (url.pathname === '/loki/api/v1/query_range') {
        const query = url.searchParams.get('query') ?? '';
        const selector = query.match(/^\{([^}]*)\}/);
        if (!selector) return Response.json({ status: 'error', error: 'parse error' }, { status: 400 });
        const matchers = [...(selector[1] ?? '').matchAll(/(\w+)\s*=\s*("(?:[^"\\]|\\.)*")/g)].map(
          (m) => [m[1] ?? '', JSON.parse(m[2] ?? '""') as string] as const,
        );
        const text = query.match(/\|~ ("(?:[^"\\]|\\.)*")/);
        const pattern = text ? JSON.parse(text[1] ?? '""').replace(/^\(\?i\)/, '') : undefined;
        const trace = query.match(/\| trace_id=("(?:[^"\\]|\\.)*")/);
        const traceId = trace ? (JSON.parse(trace[1] ?? '""') as string) : undefined;
        const start = BigInt(url.searchParams.get('start') ?? '0');
        const end = BigInt(url.searchParams.get('end') ?? `${Date.now()}000000`);
        const found = entries.filter(
          (e) =>
            matchers.every(([k, v]) => e.labels[k] === v) &&
            (!pattern || new RegExp(pattern, 'i').test(e.line)) &&
            (!traceId || e.metadata.trace_id === traceId) &&
            BigInt(e.ns) >= start &&
            BigInt(e.ns) <= end,
        );
        const streams = new Map<string, { stream: Record<string, string>; values: [string, string][] }>();
        for (const e of found) {
          const key = JSON.stringify(e.labels);
          const s = streams.get(key) ?? { stream: e.labels, values: [] };
          s.values.push([e.ns, e.line]);
          streams.set(key, s);
        }
        return Response.json({
          status: 'success',
          data: { resultType: 'streams', result: [...streams.values()] },
        });
      }
      return new Response('not found', { status: 404 });
    },
  });
  return { url: `http://${hostname}:${server.port}`, entries, stop: () => server.stop(true) };
}
