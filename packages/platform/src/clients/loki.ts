import { AppError } from '@beacon/core';

export interface LokiQuery {
  q?: string | undefined;
  handle?: string | undefined;
  traceId?: string | undefined;
  since: Date;
  until: Date;
  limit: number;
}

export interface FoundLine {
  timestamp: string;
  handle: string | null;
  service: string | null;
  stream: string | null;
  message: string;
}

interface QueryRangeAnswer {
  status: string;
  data?: { resultType: string; result: { stream: Record<string, string>; values: [string, string][] }[] };
}

/**
 * The LogQL a search is: every Beacon stream (Alloy's container and service logs, the services' own pushes,
 * all `job="beacon"`), narrowed to a container, a text (case-insensitive) and a trace (the `trace_id`
 * structured metadata both paths write).
 */
export function logql({ q, handle, traceId }: Pick<LokiQuery, 'q' | 'handle' | 'traceId'>): string {
  const selector = handle ? `{job="beacon", handle=${JSON.stringify(handle)}}` : '{job="beacon"}';
  const text = q ? ` |~ ${JSON.stringify(`(?i)${q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`)}` : '';
  const trace = traceId ? ` | trace_id=${JSON.stringify(traceId)}` : '';
  return `${selector}${text}${trace}`;
}

/** Loki's query API (GET /loki/api/v1/query_range), newest first. */
export function createLokiClient(url: string) {
  const base = url.replace(/\/$/, '');
  return {
    async search(query: LokiQuery): Promise<FoundLine[]> {
      const params = new URLSearchParams({
        query: logql(query),
        start: `${query.since.getTime()}000000`,
        end: `${query.until.getTime()}000000`,
        limit: String(query.limit),
        direction: 'backward',
      });
      let res: Response;
      try {
        res = await fetch(`${base}/loki/api/v1/query_range?${params}`, {
          signal: AbortSignal.timeout(10_000),
        });
      } catch {
        throw new AppError(
          'unavailable',
          'Loki (BEACON_LOKI_URL) is unreachable: logs cannot be searched now',
        );
      }
      if (!res.ok)
        throw new AppError('unavailable', `Loki answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
      const answer = (await res.json()) as QueryRangeAnswer;
      const lines: FoundLine[] = [];
      for (const { stream, values } of answer.data?.result ?? [])
        for (const [ns, message] of values)
          lines.push({
            timestamp: new Date(Number(BigInt(ns) / 1_000_000n)).toISOString(),
            handle: stream.handle ?? null,
            service: stream.service ?? null,
            stream: stream.stream ?? null,
            message,
          });
      return lines.sort((a, b) => b.timestamp.localeCompare(a.timestamp)).slice(0, query.limit);
    },
  };
}

export type LokiClient = ReturnType<typeof createLokiClient>;
