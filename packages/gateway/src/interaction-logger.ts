import { appendFileSync, createReadStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from '@beacon/core';
import type { GatewayMetrics } from './metrics';

/** One line per dispatch (docs/dispatch.md). */
export interface Interaction {
  timestamp: string;
  traceId: string;
  source: string;
  handle: string;
  sessionId: string | null;
  prompt: string;
  toolsUsed: string[];
  tokens: { input: number; output: number };
  costUsd: number;
  model: string | null;
  durationMs: number;
  status: string;
}

const PROMPT_LIMIT = 500;

export interface InteractionFilter {
  handle?: string | undefined;
  traceId?: string | undefined;
  status?: string | undefined;
  source?: string | undefined;
}

const matches = (entry: Interaction, filter: InteractionFilter) =>
  (Object.keys(filter) as (keyof InteractionFilter)[]).every(
    (k) => filter[k] === undefined || entry[k] === filter[k],
  );

/**
 * Appends to BEACON_HOME/system/logs/YYYY-MM-DD.jsonl (UTC day). Each line is one write with O_APPEND,
 * so concurrent dispatches never interleave inside a line. A failure is counted and logged, never thrown.
 * Written synchronously: a local append costs a few µs, the thread pool's open/write/close round trips
 * cost ~0.2 ms of each dispatch's answer (measured at one dispatch at a time).
 */
export function createInteractionLogger(home: string, metrics: GatewayMetrics, log: Logger) {
  const dir = join(home, 'system', 'logs');
  let dirReady = false;
  return {
    dir,
    write(entry: Interaction): boolean {
      const line = `${JSON.stringify({ ...entry, prompt: entry.prompt.slice(0, PROMPT_LIMIT) })}\n`;
      try {
        if (!dirReady) mkdirSync(dir, { recursive: true });
        dirReady = true;
        appendFileSync(join(dir, `${entry.timestamp.slice(0, 10)}.jsonl`), line);
        return true;
      } catch (err) {
        dirReady = false;
        metrics.interactionLogErrors.inc();
        log.error(
          { event: 'interaction_log.write_failed', traceId: entry.traceId, err: String(err) },
          'interaction log not written',
        );
        return false;
      }
    },

    /**
     * One UTC day's dispatches matching `filter`: the last `limit` of them, newest first, and totals over
     * every match. The file is streamed line by line; a line that is not JSON is skipped.
     */
    async read(date: string, filter: InteractionFilter, limit: number) {
      const totals = { dispatches: 0, costUsd: 0, inputTokens: 0, outputTokens: 0 };
      const last: Interaction[] = [];
      const file = join(dir, `${date}.jsonl`);
      if (!(await Bun.file(file).exists())) return { interactions: last, totals };
      for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
        let entry: Interaction;
        try {
          entry = JSON.parse(line);
        } catch {
          continue;
        }
        if (!matches(entry, filter)) continue;
        totals.dispatches++;
        totals.costUsd += entry.costUsd ?? 0;
        totals.inputTokens += entry.tokens?.input ?? 0;
        totals.outputTokens += entry.tokens?.output ?? 0;
        last.push(entry);
        if (last.length > limit) last.shift();
      }
      return { interactions: last.reverse(), totals };
    },
  };
}

export type InteractionLogger = ReturnType<typeof createInteractionLogger>;
