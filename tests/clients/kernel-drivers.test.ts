/**
 * The kernel's CLI drivers with the real Codex CLI and Claude Code binaries (their npm packages' own), run on
 * this machine against a proxy over a stand-in provider that answers with a call of the CLI's shell tool and
 * then with text. The same drivers in their images, through the gateway: tests/agents.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type Command, createLogger } from '@beacon/core';
import type { AgentProgress } from '../../packages/kernel/src/agent';
import { claudeDriver } from '../../packages/kernel/src/cli/claude';
import { createCliAgent } from '../../packages/kernel/src/cli/cli-agent';
import { codexDriver } from '../../packages/kernel/src/cli/codex';
import type { CliDriver } from '../../packages/kernel/src/cli/driver';
import { servedProxy } from './served-proxy';

const packageDir = (name: string) => dirname(Bun.resolveSync(`${name}/package.json`, import.meta.dir));
const CODEX = join(packageDir('@openai/codex-linux-x64'), 'vendor/x86_64-unknown-linux-musl/bin/codex');
const CLAUDE = join(packageDir('@anthropic-ai/claude-code-linux-x64'), 'claude');

let served: Awaited<ReturnType<typeof servedProxy>>;
const dirs: string[] = [];
const log = createLogger({ service: 'kernel', level: 'silent' });

beforeAll(async () => {
  served = await servedProxy(3, { toolCommand: 'echo beacon-tool-ran' });
});
afterAll(async () => {
  await served?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function agentOf(driver: CliDriver, model: string, key: string, timeoutMs = 60_000) {
  const workspace = mkdtempSync(join(tmpdir(), `beacon-${driver.name}-`));
  dirs.push(workspace);
  const env = { PATH: process.env.PATH, HOME: workspace };
  return createCliAgent({
    driver,
    workspace,
    proxyUrl: served.root,
    proxyKey: () => key,
    model,
    timeoutMs,
    env,
    log,
  });
}

let n = 0;
const command = (text: string, sessionId?: string): Command => ({
  taskId: `task-${++n}`,
  traceId: `trace${n}${Date.now()}`,
  text,
  source: 'api',
  ...(sessionId ? { sessionId } : {}),
});

/** A tool call that never ends by itself (Claude Code refuses a plain `sleep`). */
const WAIT = 'tail -s 37 -f /dev/null';

/** The processes whose command line names `word`. */
const running = (word: string) =>
  readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ').includes(word);
      } catch {
        return false;
      }
    });

const cases = [
  { driver: codexDriver(CODEX), model: 'gpt-4o-mini', shell: 'shell', bin: CODEX },
  { driver: claudeDriver(CLAUDE), model: 'claude-sonnet-4-5', shell: 'Bash', bin: CLAUDE },
];

describe.each(cases)('the $driver.name driver', ({ driver, model, shell, bin }) => {
  test('runs the tool the model called, answers, and reports what the proxy charged for the trace', async () => {
    const key = await served.proxy.keyFor(`${driver.name}-user`, `${driver.name}-box`);
    const progress: AgentProgress[] = [];
    const cmd = command('list the workspace', `s-${driver.name}`);
    const result = await agentOf(driver, model, key)(
      cmd,
      (p) => progress.push(p),
      new AbortController().signal,
    );
    expect(result.text).toBe('tok0 tok1 tok2 ');
    expect(result.toolsUsed).toEqual([shell]);
    expect(progress.filter((p) => p.tool)).toEqual([
      { tool: { name: shell, phase: 'started' } },
      { tool: { name: shell, phase: 'ended' } },
    ]);
    expect(progress.map((p) => p.delta ?? '').join('')).toContain('tok2');
    const rows = (await served.proxy.rows()).filter((r) => r.traceId === cmd.traceId);
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(new Set(rows.map((r) => `${r.user}/${r.handle}`))).toEqual(
      new Set([`${driver.name}-user/${driver.name}-box`]),
    );
    const cost = rows.reduce((s, r) => s + r.costUsd, 0);
    expect(cost).toBeGreaterThan(0);
    // Answers give micro-dollars: within half of one.
    expect(Math.abs(result.usage.costUsd - cost)).toBeLessThanOrEqual(5.000001e-7);
    expect(result.usage.outputTokens).toBe(rows.reduce((s, r) => s + r.outputTokens, 0));
    const prompt = rows.reduce((s, r) => s + r.inputTokens + r.cacheReadTokens + r.cacheWriteTokens, 0);
    expect(result.usage.inputTokens).toBe(prompt);
    expect(result.model).toBe(model);
  });

  test('the next message of a sessionId continues the agent session', async () => {
    const key = await served.proxy.keyFor(`${driver.name}-user`, `${driver.name}-box`);
    const agent = agentOf(driver, model, key);
    const none = new AbortController().signal;
    await agent(command('remember the word heliotrope', 'talk'), () => {}, none);
    const before = served.proxy.fake.calls.length;
    await agent(command('which word?', 'talk'), () => {}, none);
    const asked = served.proxy.fake.calls.slice(before).map((c) => JSON.stringify(c.body));
    expect(asked.some((b) => b.includes('heliotrope') && b.includes('which word?'))).toBe(true);
    // Another sessionId starts afresh.
    const fresh = served.proxy.fake.calls.length;
    await agent(command('hello again', 'other'), () => {}, none);
    const third = served.proxy.fake.calls.slice(fresh).map((c) => JSON.stringify(c.body));
    expect(third.some((b) => b.includes('heliotrope'))).toBe(false);
  });

  test('a cancel during a tool call stops the CLI and what it started', async () => {
    const key = await served.proxy.keyFor(`${driver.name}-user`);
    served.proxy.fake.options.toolCommand = WAIT;
    try {
      const cancel = new AbortController();
      const run = agentOf(driver, model, key)(
        command('wait'),
        (p) => {
          if (p.tool?.phase === 'started') setTimeout(() => cancel.abort('by test'), 300);
        },
        cancel.signal,
      );
      await expect(run).rejects.toMatchObject({ code: 'cancelled' });
      expect(running(WAIT)).toEqual([]);
      expect(running(bin)).toEqual([]);
    } finally {
      served.proxy.fake.options.toolCommand = 'echo beacon-tool-ran';
    }
  });
});

describe('a CLI that fails', () => {
  test('a non-zero exit is an error naming its code and last stderr line; a timeout says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-fail-'));
    dirs.push(dir);
    const fail = join(dir, 'fail');
    writeFileSync(fail, '#!/bin/sh\necho "starting" >&2\necho "boom: the model is gone" >&2\nexit 3\n');
    const slow = join(dir, 'slow');
    writeFileSync(slow, '#!/bin/sh\nsleep 30\n');
    chmodSync(fail, 0o755);
    chmodSync(slow, 0o755);
    const none = new AbortController().signal;
    await expect(agentOf(codexDriver(fail), 'm', 'k')(command('x'), () => {}, none)).rejects.toMatchObject({
      code: 'agent_exit',
      message: 'codex exited with code 3: boom: the model is gone',
    });
    await expect(
      agentOf(claudeDriver(slow), 'm', 'k', 500)(command('x'), () => {}, none),
    ).rejects.toMatchObject({
      code: 'timeout',
      message: 'claude ran past 0.5 s and was stopped',
    });
    expect(running(slow)).toEqual([]);
  });
});

test('the kernel images are built from the versions tested here', () => {
  const script = readFileSync(join(import.meta.dir, '../../distro/images/kernel/build.sh'), 'utf8');
  const pins = JSON.parse(readFileSync(join(import.meta.dir, 'package.json'), 'utf8')).dependencies;
  expect(script.match(/CODEX_PACKAGE=@openai\/codex@(\S+)-linux-x64/)?.[1]).toBe(pins['@openai/codex']);
  expect(script.match(/CLAUDE_PACKAGE=@anthropic-ai\/claude-code-linux-x64@(\S+)/)?.[1]).toBe(
    pins['@anthropic-ai/claude-code'],
  );
});
