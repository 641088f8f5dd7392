import { describe, expect, test } from 'bun:test';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Command, createLogger, createTracing } from '@beacon/core';
import { createAgent, proxyKeyFrom } from '../../packages/kernel/src/agent';
import { createApp } from '../../packages/kernel/src/app';
import { createRunner } from '../../packages/kernel/src/runner';
import { startFakeUpstream } from '../support/fake-upstream';
import { freePort } from '../support/ports';

describe('the kernel’s proxy key', () => {
  test('follows the file: replaced by a rename, rewritten in place, removed (then the env’s)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-key-'));
    const path = join(dir, 'proxy-key');
    const key = proxyKeyFrom(path, 'bk_env');
    try {
      expect(key()).toBe('bk_env');
      writeFileSync(path, 'bk_first\n');
      expect(key()).toBe('bk_first');
      expect(key()).toBe('bk_first');
      // As the platform hands a pooled container to a tenant: a new file renamed over the old one.
      writeFileSync(`${path}.tmp`, 'bk_tenant');
      renameSync(`${path}.tmp`, path);
      expect(key()).toBe('bk_tenant');
      writeFileSync(path, 'bk_rewritten_in_place');
      expect(key()).toBe('bk_rewritten_in_place');
      writeFileSync(path, '  \n');
      expect(key()).toBe('bk_env');
      rmSync(path);
      expect(key()).toBe('bk_env');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the kernel and a proxy that restarts', () => {
  test('a refused connection is tried again until the proxy answers; past the retry time the dispatch fails', async () => {
    const port = await freePort();
    const log = createLogger({ service: 'kernel', level: 'silent' });
    const command: Command = { taskId: 't1', traceId: 'trace-1', text: 'hi', source: 'api' };
    const agent = (retryMs: number) =>
      createAgent({
        proxyUrl: `http://127.0.0.1:${port}`,
        proxyKey: () => 'bk_x',
        model: 'gpt-4o-mini',
        timeoutMs: 10_000,
        retryMs,
        log,
      });
    // Nothing listens: refused at once, and past a short retry the dispatch fails naming it.
    await expect(agent(300)(command, () => {}, new AbortController().signal)).rejects.toMatchObject({
      code: 'proxy_unreachable',
    });
    // The proxy comes up 800 ms into the dispatch: the answer arrives.
    const fake = startFakeUpstream({ port: 0 });
    let server: ReturnType<typeof Bun.serve> | undefined;
    setTimeout(() => {
      server = Bun.serve({
        hostname: '127.0.0.1',
        port,
        fetch: (req) => fetch(new Request(`${fake.url}${new URL(req.url).pathname}`, req)),
      });
    }, 800);
    try {
      const result = await agent(10_000)(command, () => {}, new AbortController().signal);
      expect(result.text).toBe('tok0 tok1 tok2 tok3 tok4 ');
    } finally {
      server?.stop(true);
      fake.stop();
    }
  });
});

describe("the kernel's HTTP port", () => {
  test('with a token, POST /v1/dispatch answers only its holder; /health stays open', async () => {
    const log = createLogger({ service: 'kernel', level: 'silent' });
    const runner = createRunner(
      async (_c, onProgress) => {
        onProgress({ delta: 'hi' });
        return {
          text: 'hi',
          model: 'm',
          usage: { inputTokens: 1, outputTokens: 1, costUsd: 0 },
          toolsUsed: [],
          durationMs: 1,
        };
      },
      log,
      createTracing({ service: 'kernel', version: 't' }),
    );
    const app = createApp({
      identity: { name: 'kernel', version: 't' },
      runner,
      log,
      token: 'kernel-token-0123456789',
    });
    const dispatch = (headers: Record<string, string>) =>
      app.request('/v1/dispatch', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ taskId: 't1', traceId: 'tr', text: 'hi', source: 'api' }),
      });
    expect((await dispatch({})).status).toBe(401);
    expect((await dispatch({ authorization: 'Bearer another-tenants-token' })).status).toBe(403);
    const ok = await dispatch({ authorization: 'Bearer kernel-token-0123456789' });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('event: result');
    expect((await app.request('/health')).status).toBe(200);
  });
});
