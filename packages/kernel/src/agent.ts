import { readFileSync, statSync } from 'node:fs';
import { type Command, type KernelProgress, type KernelResult, type Logger, SseParser } from '@beacon/core';

export interface AgentOptions {
  proxyUrl: string;
  /** The key to call the proxy with, asked before every call (a pooled container's changes with its tenant). */
  proxyKey: () => string;
  model: string;
  /** The answer's limit in tokens, sent as max_completion_tokens (so a budget reserves for that much). */
  maxTokens?: number;
  timeoutMs: number;
  /** How long a proxy that refuses connections (restarting) is tried again before the dispatch fails. */
  retryMs?: number;
  log: Logger;
}

/**
 * A connection the proxy refused or dropped before answering — nothing reached it, nothing was charged — is
 * tried again (250 ms doubling to 2 s) until `retryMs` has passed: a proxy restarting costs a dispatch a
 * moment, not its answer.
 */
async function reach(url: string, init: RequestInit, retryMs: number, log: Logger, signal: AbortSignal) {
  const deadline = Date.now() + retryMs;
  for (let wait = 250, tries = 1; ; wait = Math.min(wait * 2, 2000), tries++) {
    try {
      return await fetch(url, { ...init, signal });
    } catch (err) {
      if (signal.aborted || Date.now() + wait > deadline) throw err;
      if (tries === 1)
        log.warn({ event: 'kernel.proxy_unreachable', err: String(err) }, 'the proxy refused; trying again');
      await Bun.sleep(wait);
    }
  }
}

/**
 * The key the platform wrote for the container (its pool tenant's while one holds it), else the env's.
 * Looked at before every call with one stat, and read again when its inode, size, change or modification
 * time is another (the platform writes a new file and renames it over): opening and reading it each time
 * was five syscalls of every call's start.
 */
export const proxyKeyFrom = (path: string, fallback: string) => {
  let known: { ino: number; mtimeMs: number; ctimeMs: number; size: number; key: string } | undefined;
  return () => {
    try {
      const file = statSync(path, { throwIfNoEntry: false });
      if (!file) return fallback;
      const { ino, mtimeMs, ctimeMs, size } = file;
      if (known?.ino !== ino || known.mtimeMs !== mtimeMs || known.ctimeMs !== ctimeMs || known.size !== size)
        known = { ino, mtimeMs, ctimeMs, size, key: readFileSync(path, 'utf8').trim() || fallback };
      return known.key;
    } catch {
      return fallback;
    }
  };
};

export class AgentError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** What a dispatch reports while it runs: text as it comes, a tool call as it starts and ends. */
export type AgentProgress = Pick<KernelProgress, 'delta' | 'tool'>;

/** A kernel's driver: answers one command (the built-in agent, or an agent CLI it runs). */
export type AgentRun = (
  command: Command,
  onProgress: (p: AgentProgress) => void,
  cancel: AbortSignal,
  /** The run's W3C trace context: the proxy's span is its child. */
  traceparent?: string,
) => Promise<Omit<KernelResult, 'taskId' | 'traceId'>>;

/**
 * Answers one command by calling the LLM through Beacon's proxy (OpenAI shape, streaming) with the
 * container's key, passing the text on as it arrives (what one read brings, as one delta). Tokens come
 * from the final usage chunk and the cost from the proxy's closing `beacon-cost-usd` comment, so they
 * equal what the proxy recorded.
 */
export function createAgent({
  proxyUrl,
  proxyKey,
  model,
  maxTokens = 1024,
  timeoutMs,
  retryMs = 30_000,
  log,
}: AgentOptions): AgentRun {
  return async function run(command, onProgress, cancel, traceparent) {
    const started = performance.now();
    const signal = AbortSignal.any([cancel, AbortSignal.timeout(timeoutMs)]);
    let res: Response;
    try {
      const init = {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${proxyKey()}`,
          'x-beacon-trace-id': command.traceId,
          ...(traceparent ? { traceparent } : {}),
        },
        body: JSON.stringify({
          model,
          stream: true,
          max_completion_tokens: maxTokens,
          messages: [{ role: 'user', content: command.text }],
        }),
      };
      res = await reach(`${proxyUrl.replace(/\/$/, '')}/v1/chat/completions`, init, retryMs, log, signal);
    } catch (err) {
      if (cancel.aborted) throw new AgentError('cancelled', 'cancelled');
      throw new AgentError('proxy_unreachable', `proxy unreachable: ${String(err)}`);
    }
    if (!res.ok || !res.body) {
      const body = await res.text().catch(() => '');
      throw new AgentError(`proxy_${res.status}`, `proxy answered ${res.status}: ${body.slice(0, 300)}`);
    }
    const parser = new SseParser(true);
    let text = '';
    let usedModel = model;
    let usage = { inputTokens: 0, outputTokens: 0, costUsd: 0 };
    const reader = res.body.getReader();
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        // The deltas of one read go on as one: a burst of events is one progress message, not one each.
        let deltas = '';
        for (const event of parser.push(r.value)) {
          if (event.event === 'comment') {
            const cost = event.data.match(/^beacon-cost-usd (\S+)/);
            if (cost) usage = { ...usage, costUsd: Number(cost[1]) };
            continue;
          }
          if (event.data === '[DONE]') continue;
          const chunk = JSON.parse(event.data) as {
            model?: string;
            choices?: { delta?: { content?: string } }[];
            usage?: { prompt_tokens?: number; completion_tokens?: number };
          };
          if (chunk.model) usedModel = chunk.model;
          const delta = chunk.choices?.[0]?.delta?.content;
          if (delta) deltas += delta;
          if (chunk.usage) {
            usage = {
              ...usage,
              inputTokens: chunk.usage.prompt_tokens ?? 0,
              outputTokens: chunk.usage.completion_tokens ?? 0,
            };
          }
        }
        if (deltas) {
          text += deltas;
          onProgress({ delta: deltas });
        }
      }
    } catch (err) {
      if (cancel.aborted) throw new AgentError('cancelled', 'cancelled');
      throw new AgentError('stream_broken', `LLM stream broke off: ${String(err)}`);
    }
    const durationMs = Math.round(performance.now() - started);
    log.info(
      { event: 'kernel.task_completed', traceId: command.traceId, taskId: command.taskId, durationMs },
      'answered',
    );
    return { text, model: usedModel, usage, toolsUsed: [], durationMs };
  };
}
