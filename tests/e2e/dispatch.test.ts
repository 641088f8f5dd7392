import { Database } from 'bun:sqlite';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasDocker, hasTool } from '../support/deps';
import { docker, handlePrefix, removeContainers } from '../support/docker';
import { type FakeUpstream, startFakeUpstream } from '../support/fake-upstream';
import { startNats } from '../support/nats';
import { type RunningService, startService } from '../support/service';
import { sseClient } from '../support/sse';
import { eventually } from '../support/wait';

// The whole path: gateway → (NATS | HTTP) → kernel in a real container → proxy → fake upstream.
const available = (await hasDocker()) && hasTool('nats-server');
const prefix = handlePrefix('e2e');
const TOKEN = 'e2e-admin-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const work = mkdtempSync(join(tmpdir(), 'beacon-e2e-'));

async function buildKernelImage() {
  const proc = Bun.spawn(['bash', 'distro/images/kernel/build.sh', 'beacon-kernel:e2e'], {
    stdout: 'pipe',
    stderr: 'pipe',
  });
  if ((await proc.exited) !== 0) throw new Error(`kernel image: ${await new Response(proc.stderr).text()}`);
}

/**
 * The address containers use to reach services on this host: the default bridge's gateway, which the
 * engine gives the subnet's first address when none is configured.
 */
async function bridgeAddress(): Promise<string> {
  const config = (await docker.getNetwork('bridge').inspect()).IPAM?.Config?.[0];
  if (config?.Gateway) return config.Gateway;
  const subnet = config?.Subnet?.match(/^(\d+)\.(\d+)\.(\d+)\.(\d+)\//);
  if (!subnet) throw new Error('the default bridge network has no IPv4 subnet');
  return `${subnet[1]}.${subnet[2]}.${subnet[3]}.${Number(subnet[4]) + 1}`;
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

const metricLine = (text: string, prefix: string) => text.split('\n').find((l) => l.startsWith(prefix));

describe.skipIf(!available)('dispatch end to end', () => {
  let nats: Awaited<ReturnType<typeof startNats>>;
  let fake: FakeUpstream;
  let proxy: RunningService;
  let platform: RunningService;
  let gateway: RunningService;
  let httpGateway: RunningService;
  const home = join(work, 'home');
  const proxyData = join(work, 'proxy');
  const handle = `${prefix}-olive`;

  beforeAll(async () => {
    await buildKernelImage();
    const host = await bridgeAddress();
    nats = await startNats(host);
    fake = startFakeUpstream({ chunks: 3 });
    proxy = await startService('proxy', {
      BEACON_HOST: host,
      BEACON_ADMIN_TOKEN: TOKEN,
      BEACON_DATA_DIR: proxyData,
      BEACON_UPSTREAM_OPENAI_URL: fake.url,
      BEACON_UPSTREAM_ANTHROPIC_URL: fake.url,
    });
    platform = await startService('platform', {
      BEACON_ADMIN_TOKEN: TOKEN,
      BEACON_DATA_DIR: join(work, 'platform'),
      BEACON_NATS_URL: nats.url,
      BEACON_PROXY_URL: proxy.url,
      BEACON_DEFAULT_IMAGE: 'beacon-kernel:e2e',
      BEACON_SECRETS_RUNTIME_DIR: join(work, 'secrets'),
    });
    const gatewayEnv = {
      BEACON_ADMIN_TOKEN: TOKEN,
      BEACON_PLATFORM_URL: platform.url,
      BEACON_HOME: home,
      BEACON_DISPATCH_TIMEOUT: '20',
    };
    gateway = await startService('gateway', { ...gatewayEnv, BEACON_NATS_URL: nats.url });
    httpGateway = await startService('gateway', gatewayEnv);
    const created = await post(
      `${platform.url}/api/containers`,
      { handle, owner: 'olive', memoryMb: 256 },
      auth,
    );
    expect(created.status).toBe(201);
    // The kernel is ready when its /health is healthy: HTTP up and its NATS subscription live.
    await eventually(async () => {
      const c = await (await fetch(`${platform.url}/api/containers/${handle}`, { headers: auth })).json();
      const ip = c.docker?.ip;
      if (!ip) return false;
      const h = await fetch(`http://${ip}:7681/health`).catch(() => undefined);
      return h?.ok && (await h.json()).status === 'healthy';
    }, 20_000).catch(async (err) => {
      const logs = await docker
        .getContainer(`beacon-${handle}`)
        .logs({ stdout: true, stderr: true, tail: 20 });
      throw new Error(`kernel not healthy: ${err}\n${logs.toString()}`);
    });
  });

  afterAll(async () => {
    await removeContainers(prefix);
    for (const s of [gateway, httpGateway, platform, proxy]) await s?.stop();
    fake?.stop();
    await nats?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  const usageRow = (traceId: string) => {
    const db = new Database(join(proxyData, 'proxy.sqlite'), { readonly: true });
    try {
      return db.query('SELECT * FROM usage WHERE trace_id = ?').get(traceId) as Record<
        string,
        number | string
      > | null;
    } finally {
      db.close();
    }
  };
  const journal = (traceId: string) => {
    const file = join(home, 'system', 'logs', `${new Date().toISOString().slice(0, 10)}.jsonl`);
    return readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((l) => l.traceId === traceId);
  };

  for (const transport of ['nats', 'http'] as const) {
    test(`POST /api/message over ${transport}: answer, JSONL = proxy usage row, metrics, SSE`, async () => {
      const gw = transport === 'nats' ? gateway : httpGateway;
      const events = await sseClient(`${gw.url}/api/events`);
      const res = await post(`${gw.url}/api/message`, { handle, text: `hello over ${transport}` });
      const body = await res.json();
      expect(res.status).toBe(200);
      expect(body.status).toBe('ok');
      expect(body.result.text).toBe('tok0 tok1 tok2 ');

      const row = usageRow(body.traceId);
      expect(row).toMatchObject({ user: 'olive', handle, status: 'ok' });
      const line = journal(body.traceId);
      expect(line).toMatchObject({ source: 'api', handle, status: 'ok', prompt: `hello over ${transport}` });
      expect(line.tokens).toEqual({
        input: Number(row?.input_tokens) + Number(row?.cache_read_tokens),
        output: row?.output_tokens,
      });
      expect(line.costUsd).toBeCloseTo(Number(row?.cost_usd), 12);
      expect(line.costUsd).toBeGreaterThan(0);

      await events.waitFor((e) => e.event === 'dispatch.started' && e.data.includes(body.taskId));
      const done = await events.waitFor(
        (e) => e.event === 'dispatch.completed' && e.data.includes(body.taskId),
      );
      expect(JSON.parse(done.data)).toMatchObject({ status: 'ok', handle });
      events.close();

      const gm = await (await fetch(`${gw.url}/metrics`)).text();
      expect(metricLine(gm, 'gateway_kernel_dispatch_total{source="api",status="ok"}')).toMatch(/ [1-9]\d*$/);
      expect(metricLine(gm, 'gateway_kernel_dispatch_duration_seconds_count{source="api"}')).toMatch(
        / [1-9]\d*$/,
      );
      expect(metricLine(gm, 'gateway_ai_cost_usd_total{model="gpt-4o-mini"}')).toBeDefined();
      const pm = await (await fetch(`${proxy.url}/metrics`, { headers: auth })).text();
      expect(
        Number(metricLine(pm, 'proxy_api_cost_usd_total{user="olive",model="gpt-4o-mini"}')?.split(' ')[1]),
      ).toBeGreaterThan(0);
    });
  }

  test('the web shell streams progress and the result', async () => {
    const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}/ws?handle=${handle}`);
    const messages: { type: string; [k: string]: unknown }[] = [];
    ws.onmessage = (e) => messages.push(JSON.parse(String(e.data)));
    await new Promise((resolve) => {
      ws.onopen = resolve;
    });
    ws.send(JSON.stringify({ type: 'message', text: 'hi from the shell' }));
    const result = await eventually(() => messages.find((m) => m.type === 'result'), 20_000);
    expect(result).toMatchObject({ text: 'tok0 tok1 tok2 ', model: 'gpt-4o-mini' });
    expect(messages.filter((m) => m.type === 'progress').length).toBe(3);
    ws.close();
    expect(journal(String(result.traceId))).toMatchObject({ source: 'web', status: 'ok' });
  });

  test('an unwritable log directory: the dispatch still succeeds and the error counter moves', async () => {
    const broken = await startService('gateway', {
      BEACON_ADMIN_TOKEN: TOKEN,
      BEACON_PLATFORM_URL: platform.url,
      BEACON_HOME: '/dev/null/home',
    });
    try {
      const res = await post(`${broken.url}/api/message`, { handle, text: 'log me if you can' });
      expect(res.status).toBe(200);
      expect((await res.json()).status).toBe('ok');
      const text = await (await fetch(`${broken.url}/metrics`)).text();
      expect(metricLine(text, 'gateway_interaction_log_errors_total')).toBe(
        'gateway_interaction_log_errors_total 1',
      );
    } finally {
      await broken.stop();
    }
  });

  test('the kernel killed mid-dispatch: the dispatch ends as error, logged, nothing hangs', async () => {
    fake.options.chunks = 50;
    fake.options.chunkDelayMs = 100;
    try {
      const res = await post(`${gateway.url}/api/message`, {
        handle,
        text: 'a long answer please',
        async: true,
      });
      expect(res.status).toBe(202);
      const { taskId, traceId } = await res.json();
      await eventually(
        async () => (await (await fetch(`${gateway.url}/api/tasks/${taskId}`)).json()).output.length > 0,
        10_000,
      );
      await docker.getContainer(`beacon-${handle}`).kill();
      const task = await eventually(async () => {
        const t = await (await fetch(`${gateway.url}/api/tasks/${taskId}`)).json();
        return t.status !== 'running' ? t : undefined;
      }, 20_000);
      expect(task.status).toBe('failed');
      await eventually(() => journal(traceId), 5000);
      expect(journal(traceId)).toMatchObject({ status: 'error' });
    } finally {
      fake.options.chunks = 3;
      fake.options.chunkDelayMs = 0;
    }
  });
});
