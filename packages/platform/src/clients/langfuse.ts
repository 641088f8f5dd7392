import { type Langfuse, langfuseProbe } from '@beacon/core';
import { LangfuseClient } from '@langfuse/client';

/** What Langfuse holds of one container's session (its handle): the seed's summary. */
export interface SessionSummary {
  traces: number;
  observations: number;
  generations: number;
  errors: number;
  /** Tool observations by name. */
  tools: Record<string, number>;
  costUsd: number;
  /** More than the pages read (5 000 observations): the counts are of those. */
  truncated: boolean;
  at: string;
}

const PAGE = 1000;
const PAGES = 5;
/** A failed read is asked again sooner than a good one. */
const FAILED_TTL_MS = 10_000;

/**
 * Session summaries from Langfuse's public API (v2 observations by session id; the traces list is gone
 * from Langfuse v4), cached per handle for `ttlMs`: a busy console costs Langfuse one read a minute.
 */
export function createSessionSummaries(lf: Langfuse, ttlMs = 60_000) {
  const client = new LangfuseClient({ publicKey: lf.publicKey, secretKey: lf.secretKey, baseUrl: lf.url });
  const cache = new Map<string, { until: number; value: Promise<SessionSummary | { error: string }> }>();

  async function read(handle: string): Promise<SessionSummary> {
    const traces = new Set<string>();
    const summary: SessionSummary = {
      traces: 0,
      observations: 0,
      generations: 0,
      errors: 0,
      tools: {},
      costUsd: 0,
      truncated: false,
      at: new Date().toISOString(),
    };
    let cursor: string | undefined;
    for (let page = 0; page < PAGES; page++) {
      const res = await client.api.observations.getMany(
        { sessionId: handle, fields: 'core,basic,usage', limit: PAGE, ...(cursor ? { cursor } : {}) },
        { timeoutInSeconds: 5, maxRetries: 0 },
      );
      for (const o of res.data) {
        summary.observations++;
        if (o.traceId) traces.add(o.traceId);
        if (o.type === 'GENERATION') summary.generations++;
        if (o.level === 'ERROR') summary.errors++;
        if (o.type === 'TOOL') summary.tools[o.name ?? 'tool'] = (summary.tools[o.name ?? 'tool'] ?? 0) + 1;
        summary.costUsd += o.totalCost ?? 0;
      }
      cursor = res.meta.cursor;
      if (!cursor) break;
    }
    summary.traces = traces.size;
    summary.truncated = cursor !== undefined;
    return summary;
  }

  return {
    /** The summary, or why there is none (Langfuse unreachable): never an error for the container's view. */
    summary(handle: string): Promise<SessionSummary | { error: string }> {
      const now = Date.now();
      const hit = cache.get(handle);
      if (hit && hit.until > now) return hit.value;
      const entry = {
        until: now + ttlMs,
        value: read(handle).catch(() => {
          entry.until = Date.now() + FAILED_TTL_MS;
          return { error: 'Langfuse did not answer: no session summary now' };
        }),
      };
      cache.set(handle, entry);
      if (cache.size > 10_000) cache.delete(cache.keys().next().value ?? '');
      return entry.value;
    },
    probe: langfuseProbe(lf.url),
  };
}

export type SessionSummaries = ReturnType<typeof createSessionSummaries>;
