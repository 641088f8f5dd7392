import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeUpstream } from '../support/fake-upstream';
import { freePort } from '../support/ports';
import { openaiCall } from '../support/proxy';
import { type RunningService, startService } from '../support/service';
import { LANGFUSE_KEYS, startLangfuse } from '../support/telemetry';
import { eventually } from '../support/wait';

// What the proxy reports to, away or refusing: calls are answered all the same, /health says degraded,
// the failures are counted. Langfuse with prompts captured (BEACON_LANGFUSE_CAPTURE_PROMPTS=true).
const ADMIN = 'reporting-admin-token-0123456789';
const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
const work = mkdtempSync(join(tmpdir(), 'beacon-reporting-'));

describe('the proxy when Loki, the trace collector or Langfuse is away', () => {
  const upstream = startFakeUpstream();
  const langfuse = startLangfuse();
  let proxy: RunningService;
  let key = '';
  const call = () =>
    fetch(`${proxy.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(openaiCall()),
      signal: AbortSignal.timeout(2000),
    });
  const health = async () =>
    (await (await fetch(`${proxy.url}/health`)).json()) as {
      status: string;
      checks: Record<string, { status: string; message?: string }>;
    };
  const metric = async (name: string) => {
    const text = await (await fetch(`${proxy.url}/metrics`)).text();
    return Number(
      text
        .split('\n')
        .find((l) => l.startsWith(`${name} `))
        ?.split(' ')[1] ?? 'NaN',
    );
  };

  beforeAll(async () => {
    // Nothing listens on these ports.
    const dead = `http://127.0.0.1:${await freePort()}`;
    proxy = await startService('proxy', {
      BEACON_ADMIN_TOKEN: ADMIN,
      BEACON_DATA_DIR: join(work, 'proxy'),
      BEACON_UPSTREAM_OPENAI_URL: upstream.url,
      BEACON_LOKI_URL: dead,
      BEACON_OTLP_URL: dead,
      BEACON_LANGFUSE_URL: langfuse.url,
      BEACON_LANGFUSE_PUBLIC_KEY: LANGFUSE_KEYS.publicKey,
      BEACON_LANGFUSE_SECRET_KEY: LANGFUSE_KEYS.secretKey,
      BEACON_LANGFUSE_CAPTURE_PROMPTS: 'true',
    });
    const minted = await fetch(`${proxy.url}/api/keys`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ user: 'una', handle: 'una-box' }),
    });
    key = ((await minted.json()) as { key: string }).key;
  });

  afterAll(async () => {
    await proxy?.stop();
    upstream.stop();
    langfuse.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('Loki and the collector away: calls answered, /health degraded naming both, failures counted', async () => {
    for (let i = 0; i < 3; i++) expect((await call()).status).toBe(200);
    await eventually(async () => {
      const { checks } = await health();
      return checks.loki?.status === 'degraded' && checks.traces?.status === 'degraded';
    }, 10_000);
    const { status, checks } = await health();
    expect(status).toBe('degraded');
    expect(checks.loki?.message).toContain('Loki unreachable');
    expect(checks.traces?.message).toContain('spans not exported');
    expect(checks.database?.status).toBe('ok');
    expect(await metric('proxy_loki_push_failures_total')).toBeGreaterThanOrEqual(1);
    expect(await metric('proxy_trace_export_failures_total')).toBeGreaterThanOrEqual(1);
  });

  test('Langfuse gets the prompt and the answer when capture is on; away, calls are answered and /health says so', async () => {
    const generation = await eventually(() => langfuse.generations.at(-1), 10_000);
    const input = JSON.parse(String(generation?.attributes['langfuse.observation.input']));
    expect(input).toEqual([{ role: 'user', content: 'hello' }]);
    expect(generation?.attributes['langfuse.observation.output']).toBeDefined();
    expect((await health()).checks.langfuse?.status).toBe('ok');

    langfuse.stop();
    expect((await call()).status).toBe(200);
    const { status, checks } = await health();
    expect(status).toBe('degraded');
    expect(checks.langfuse?.status).not.toBe('ok');
  });
});
