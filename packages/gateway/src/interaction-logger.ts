import {
  closeSync,
  createReadStream,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  writeSync,
} from 'node:fs';
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
  /** Why a dispatch that did not end ok ended so (the kernel's error, the timeout, the cancel). */
  error?: { code: string; message: string };
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

/** Lines kept while the disk refuses them (full, read-only); past it the oldest are dropped and counted. */
const MAX_WAITING = 10_000;

/**
 * Appends to BEACON_HOME/system/logs/YYYY-MM-DD.jsonl (UTC day). Each line is one write with O_APPEND,
 * so concurrent dispatches never interleave inside a line. Written synchronously: a local append costs a few
 * µs, the thread pool's open/write/close round trips cost ~0.2 ms of each dispatch's answer (measured at one
 * dispatch at a time). A line the disk refuses waits, in order, and is written once the disk takes it again
 * (tried every second); never thrown at the dispatch.
 */
export function createInteractionLogger(home: string, metrics: GatewayMetrics, log: Logger) {
  const dir = join(home, 'system', 'logs');
  let dirReady = false;
  const waiting: { day: string; line: string; traceId: string }[] = [];
  let retry: Timer | undefined;

  /** One whole line or nothing: a write the disk cut short is taken back, so a retry never leaves half a line. */
  const append = (day: string, line: string) => {
    if (!dirReady) mkdirSync(dir, { recursive: true });
    dirReady = true;
    const fd = openSync(join(dir, `${day}.jsonl`), 'a');
    const size = fstatSync(fd).size;
    try {
      const bytes = Buffer.from(line);
      for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
    } catch (err) {
      ftruncateSync(fd, size);
      throw err;
    } finally {
      closeSync(fd);
    }
  };

  /** The waiting lines, oldest first, until one is refused again. */
  function drain() {
    retry = undefined;
    while (waiting.length > 0) {
      const next = waiting[0] as (typeof waiting)[number];
      try {
        append(next.day, next.line);
      } catch {
        dirReady = false;
        retry = setTimeout(drain, 1000);
        retry.unref?.();
        return;
      }
      waiting.shift();
    }
    log.info({ event: 'interaction_log.recovered' }, 'the interaction log is written again');
  }

  return {
    dir,
    write(entry: Interaction): boolean {
      const line = `${JSON.stringify({ ...entry, prompt: entry.prompt.slice(0, PROMPT_LIMIT) })}\n`;
      const day = entry.timestamp.slice(0, 10);
      if (waiting.length === 0) {
        try {
          append(day, line);
          return true;
        } catch (err) {
          dirReady = false;
          log.error(
            { event: 'interaction_log.write_failed', traceId: entry.traceId, err: String(err) },
            'interaction log not written; the line waits for the disk',
          );
        }
      }
      metrics.interactionLogErrors.inc();
      waiting.push({ day, line, traceId: entry.traceId });
      if (waiting.length > MAX_WAITING) {
        const dropped = waiting.shift();
        metrics.interactionLogDropped.inc();
        log.error(
          { event: 'interaction_log.dropped', traceId: dropped?.traceId },
          'an interaction log line was dropped',
        );
      }
      retry ??= setTimeout(drain, 1000);
      retry.unref?.();
      return false;
    },

    /** For /health: lines the disk has not taken yet. */
    check() {
      if (waiting.length > 0) throw new Error(`${waiting.length} interaction log lines wait for the disk`);
    },

    /** Shutdown: one last try for the waiting lines. */
    stop() {
      clearTimeout(retry);
      drain();
      clearTimeout(retry);
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
