import { join } from 'node:path';
import { type Command, createJsonClient, type Logger, traceUsageAnswer } from '@beacon/core';
import { AgentError, type AgentRun } from '../agent';
import type { CliDriver, RunContext } from './driver';
import { runCli } from './process';
import { createSessions } from './sessions';

export interface CliAgentOptions {
  driver: CliDriver;
  /** Where the CLI runs and keeps its sessions (the container's workspace). */
  workspace: string;
  proxyUrl: string;
  proxyKey: () => string;
  model: string | undefined;
  timeoutMs: number;
  /** The environment the CLI starts from (the container's), before the driver's own variables. */
  env: Record<string, string | undefined>;
  log: Logger;
}

const NO_USAGE = { inputTokens: 0, outputTokens: 0, costUsd: 0 };

/**
 * Answers each command by running an agent CLI (Codex, Claude Code) in the workspace: its events stream as
 * progress, the next message of a sessionId resumes the agent's session, and the tokens and cost are what the
 * proxy recorded for the dispatch's trace id (every call the CLI made, tools' turns and side calls too).
 */
export function createCliAgent(opts: CliAgentOptions): AgentRun {
  const { driver, workspace, log } = opts;
  const sessions = createSessions(join(workspace, '.beacon', `${driver.name}-sessions.json`));
  // Up to 5 s of it the proxy may wait for a call still being recorded.
  const proxy = createJsonClient({ name: 'proxy', baseUrl: opts.proxyUrl, timeoutMs: 10_000 });

  /** What the proxy charged the key's user in this trace: what /api/usage and the interaction log show. */
  async function recorded(ctx: RunContext) {
    const path = `/v1/usage?traceId=${encodeURIComponent(ctx.traceId)}`;
    try {
      const u = await proxy.json(path, traceUsageAnswer, { token: ctx.key });
      const top = u.models.toSorted((a, b) => b.costUsd - a.costUsd)[0]?.model;
      // Input as the built-in agent reports it: every prompt token, cached or not.
      const inputTokens = u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens;
      return { usage: { inputTokens, outputTokens: u.outputTokens, costUsd: u.costUsd }, top };
    } catch (err) {
      log.warn({ event: 'kernel.usage_unknown', traceId: ctx.traceId, err: String(err) }, 'usage not known');
      return { usage: NO_USAGE, top: undefined };
    }
  }

  async function runOnce(
    command: Command,
    onProgress: Parameters<AgentRun>[1],
    cancel: AbortSignal,
    traceparent: string | undefined,
  ) {
    const started = performance.now();
    const ctx: RunContext = {
      workspace,
      proxyUrl: opts.proxyUrl,
      key: opts.proxyKey(),
      model: opts.model,
      traceId: command.traceId,
      traceparent,
    };
    const resume = command.sessionId ? sessions.get(command.sessionId) : undefined;
    const env = Object.fromEntries(
      Object.entries({ ...opts.env, ...driver.env(ctx) }).filter(
        (e): e is [string, string] => e[1] !== undefined,
      ),
    );
    const cli = runCli(driver.argv(ctx, resume), { cwd: workspace, env, input: command.text });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      void cli.stop();
    }, opts.timeoutMs);
    const onCancel = () => void cli.stop();
    cancel.addEventListener('abort', onCancel, { once: true });
    const read = driver.reader();
    const toolsUsed: string[] = [];
    let text = '';
    let failure: string | undefined;
    try {
      for await (const line of cli.lines) {
        let event: Record<string, unknown>;
        try {
          event = JSON.parse(line);
        } catch {
          continue;
        }
        for (const e of read(event)) {
          if (e.session && command.sessionId) sessions.set(command.sessionId, e.session);
          if (e.tool?.phase === 'started' && !toolsUsed.includes(e.tool.name)) toolsUsed.push(e.tool.name);
          if (e.delta || e.tool)
            onProgress({ ...(e.delta ? { delta: e.delta } : {}), ...(e.tool ? { tool: e.tool } : {}) });
          if (e.final !== undefined) text = e.final;
          if (e.failure !== undefined) failure = e.failure;
        }
      }
    } finally {
      clearTimeout(timer);
      cancel.removeEventListener('abort', onCancel);
    }
    const { code, lastError } = await cli.exited;
    if (cancel.aborted) throw new AgentError('cancelled', 'cancelled');
    if (timedOut)
      throw new AgentError('timeout', `${driver.name} ran past ${opts.timeoutMs / 1000} s and was stopped`);
    if (code !== 0)
      throw new AgentError('agent_exit', `${driver.name} exited with code ${code}: ${failure ?? lastError}`);
    if (failure !== undefined) throw new AgentError('agent_failed', `${driver.name} failed: ${failure}`);
    const { usage, top } = await recorded(ctx);
    const durationMs = Math.round(performance.now() - started);
    log.info(
      {
        event: 'kernel.task_completed',
        traceId: command.traceId,
        taskId: command.taskId,
        durationMs,
        toolsUsed,
      },
      'answered',
    );
    return { text, model: top ?? opts.model ?? driver.defaultModel, usage, toolsUsed, durationMs };
  }

  return (command, onProgress, cancel, traceparent) =>
    sessions.inTurn(command.sessionId, () => runOnce(command, onProgress, cancel, traceparent));
}
