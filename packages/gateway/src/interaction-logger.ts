import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@beacon/core';
import type { GatewayMetrics } from './metrics';

/** One line per dispatch (SPEC §6). */
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

/**
 * Appends to BEACON_HOME/system/logs/YYYY-MM-DD.jsonl (UTC day). Each line is one write with O_APPEND,
 * so concurrent dispatches never interleave inside a line. A failure is counted and logged, never thrown.
 */
export function createInteractionLogger(home: string, metrics: GatewayMetrics, log: Logger) {
  const dir = join(home, 'system', 'logs');
  let dirReady: Promise<unknown> | undefined;
  return {
    dir,
    async write(entry: Interaction): Promise<boolean> {
      const line = `${JSON.stringify({ ...entry, prompt: entry.prompt.slice(0, PROMPT_LIMIT) })}\n`;
      try {
        dirReady ??= mkdir(dir, { recursive: true });
        await dirReady;
        await appendFile(join(dir, `${entry.timestamp.slice(0, 10)}.jsonl`), line, { flag: 'a' });
        return true;
      } catch (err) {
        dirReady = undefined;
        metrics.interactionLogErrors.inc();
        log.error(
          { event: 'interaction_log.write_failed', traceId: entry.traceId, err: String(err) },
          'interaction log not written',
        );
        return false;
      }
    },
  };
}

export type InteractionLogger = ReturnType<typeof createInteractionLogger>;
