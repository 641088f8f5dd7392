/**
 * Codex CLI (@openai/codex, its own static binary) with a custom provider whose base_url is the proxy: Codex
 * speaks only the Responses API. A stand-in provider (tests/support/fake-upstream.ts) answers behind it.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestProxy } from '../support/proxy';
import { MINI_COST, servedProxy } from './served-proxy';

/** The musl binary the npm package ships for this platform. */
const codexBinary = join(
  dirname(Bun.resolveSync('@openai/codex-linux-x64/package.json', import.meta.dir)),
  'vendor/x86_64-unknown-linux-musl/bin/codex',
);

let served: Awaited<ReturnType<typeof servedProxy>>;
let proxy: TestProxy;
let home = '';

beforeAll(async () => {
  served = await servedProxy(3);
  proxy = served.proxy;
  home = mkdtempSync(join(tmpdir(), 'beacon-codex-'));
  writeFileSync(
    join(home, 'config.toml'),
    [
      'model = "gpt-4o-mini"',
      'model_provider = "beacon"',
      '[model_providers.beacon]',
      'name = "Beacon"',
      `base_url = "${served.baseURL}"`,
      'env_key = "BEACON_KEY"',
      'wire_api = "responses"',
    ].join('\n'),
  );
});
afterAll(async () => {
  await served?.stop();
  rmSync(home, { recursive: true, force: true });
});

test('codex exec answers through the proxy, and its call is billed to the key', async () => {
  const key = await proxy.keyFor('cody', 'cody-box');
  const run = Bun.spawn([codexBinary, 'exec', '--skip-git-repo-check', '--json', 'say hi'], {
    cwd: home,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, CODEX_HOME: home, BEACON_KEY: key },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [out, err, code] = await Promise.all([
    new Response(run.stdout).text(),
    new Response(run.stderr).text(),
    run.exited,
  ]);
  expect({ code, err: code === 0 ? '' : err }).toEqual({ code: 0, err: '' });
  const events = out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  const message = events.find((e) => e.type === 'item.completed' && e.item?.type === 'agent_message');
  expect(message?.item.text).toBe('tok0 tok1 tok2 ');
  const turn = events.find((e) => e.type === 'turn.completed');
  expect(turn?.usage).toMatchObject({
    input_tokens: 150,
    cached_input_tokens: 30,
    output_tokens: 40,
    reasoning_output_tokens: 16,
  });
  const [row] = await proxy.rows();
  expect(row).toMatchObject({
    user: 'cody',
    handle: 'cody-box',
    model: 'gpt-4o-mini',
    stream: true,
    status: 'ok',
    inputTokens: 120,
    cacheReadTokens: 30,
    outputTokens: 40,
    reasoningTokens: 16,
  });
  expect(row?.costUsd).toBeCloseTo(MINI_COST, 12);
  expect(proxy.fake.calls.map((c) => c.path)).toEqual(['/v1/responses']);
});
