import { Database } from 'bun:sqlite';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../support/command';
import { hasDocker, hasTool } from '../support/deps';
import { docker, execIn, handlePrefix, removeContainers } from '../support/docker';
import { post } from '../support/http';
import { startService } from '../support/service';
import { sseClient } from '../support/sse';
import { STACK_TOKEN, type Stack, stackAuth, startStack } from '../support/stack';
import { eventually } from '../support/wait';

// The whole path: gateway → (NATS | HTTP) → kernel in a real container → proxy → fake upstream.
const available = (await hasDocker()) && hasTool('nats-server');
const prefix = handlePrefix('e2e');
const work = mkdtempSync(join(tmpdir(), 'beacon-e2e-'));

const metricLine = (text: string, prefix: string) => text.split('\n').find((l) => l.startsWith(prefix));
/** The JSON log lines in a service's output (anything else, e.g. a runtime warning, is skipped). */
const logLines = (output: string): Record<string, unknown>[] =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));

describe.skipIf(!available)('dispatch end to end', () => {
  let stack: Stack;
  const handle = `${prefix}-olive`;

  beforeAll(async () => {
    stack = await startStack(work, { pools: [{ name: `${prefix}-p`, min: 1, max: 1, memoryMb: 256 }] });
    await stack.provision(handle, 'olive');
  });

  afterAll(async () => {
    await removeContainers(prefix);
    await stack?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const usageRow = (traceId: string) => {
    const db = new Database(join(stack.proxyData, 'proxy.sqlite'), { readonly: true });
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
    const file = join(stack.home, 'system', 'logs', `${new Date().toISOString().slice(0, 10)}.jsonl`);
    return readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((l) => l.traceId === traceId);
  };

  for (const transport of ['nats', 'http'] as const) {
    test(`POST /api/message over ${transport}: answer, JSONL = proxy usage row, metrics, SSE`, async () => {
      const gw = transport === 'nats' ? stack.gateway : stack.httpGateway;
      const events = await sseClient(`${gw.url}/api/events`);
      const res = await post(`${gw.url}/api/message`, { handle, text: `hello over ${transport}` });
      const body = await res.json();
      expect(res.status).toBe(200);
      expect(body.status).toBe('ok');
      expect(body.result.text).toBe('tok0 tok1 tok2 ');

      // The proxy writes usage rows a few milliseconds behind the response (first `pending`, then settled).
      const row = await eventually(() => {
        const found = usageRow(body.traceId);
        return found?.status === 'pending' ? undefined : found;
      });
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
      const pm = await (await fetch(`${stack.proxy.url}/metrics`, { headers: stackAuth })).text();
      expect(
        Number(metricLine(pm, 'proxy_api_cost_usd_total{user="olive",model="gpt-4o-mini"}')?.split(' ')[1]),
      ).toBeGreaterThan(0);
    });
  }

  test('one trace id in every log line of a dispatch: gateway, kernel and proxy', async () => {
    const res = await post(`${stack.gateway.url}/api/message`, { handle, text: 'trace me' });
    const { taskId, traceId } = await res.json();
    const proxyLines = await eventually(() => {
      const lines = logLines(stack.proxy.output()).filter((l) => l.traceId === traceId);
      return lines.length > 0 && lines;
    });
    expect(proxyLines).toEqual([
      expect.objectContaining({ event: 'proxy.call', user: 'olive', handle, status: 'ok' }),
    ]);
    const kernelOutput = (await runCommand(['docker', 'logs', `beacon-${handle}`])).output;
    for (const [service, lines, events] of [
      ['gateway', logLines(stack.gateway.output()), ['router.task_dispatched', 'router.task_completed']],
      ['kernel', logLines(kernelOutput), ['kernel.task_started', 'kernel.task_completed']],
    ] as const) {
      const ofTask = lines.filter((l) => JSON.stringify(l).includes(taskId));
      expect(ofTask.map((l) => l.event)).toEqual(expect.arrayContaining([...events]));
      for (const line of ofTask) expect({ service, traceId: line.traceId }).toEqual({ service, traceId });
    }
  });

  test('an unknown handle is a 404 at once, bad input a 400 naming the field', async () => {
    const unknown = await post(`${stack.gateway.url}/api/message`, {
      handle: `${prefix}-nobody`,
      text: 'hi',
    });
    expect(unknown.status).toBe(404);
    const bad = await post(`${stack.gateway.url}/api/message`, { handle: 'Not A Handle', text: '' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toContain('body.handle');
  });

  test('the web shell streams progress and the result', async () => {
    // Progress travels on core NATS and results through JetStream: spaced chunks keep their order plain.
    stack.fake.options.chunkDelayMs = 30;
    const ws = new WebSocket(`${stack.gateway.url.replace('http', 'ws')}/ws?handle=${handle}`);
    try {
      const messages: { type: string; [k: string]: unknown }[] = [];
      ws.onmessage = (e) => messages.push(JSON.parse(String(e.data)));
      await new Promise((resolve) => {
        ws.onopen = resolve;
      });
      ws.send(JSON.stringify({ type: 'message', text: 'hi from the shell' }));
      const result = await eventually(() => messages.find((m) => m.type === 'result'), 20_000);
      expect(result).toMatchObject({ text: 'tok0 tok1 tok2 ', model: 'gpt-4o-mini' });
      const progress = messages.filter((m) => m.type === 'progress');
      expect(progress.length).toBeGreaterThanOrEqual(1);
      expect(progress.map((m) => m.delta).join('')).toBe(
        'tok0 tok1 tok2 '.slice(0, progress.map((m) => m.delta).join('').length),
      );
      expect(journal(String(result.traceId))).toMatchObject({ source: 'web', status: 'ok' });
    } finally {
      ws.close();
      stack.fake.options.chunkDelayMs = 0;
    }
  });

  test('an unwritable log directory: the dispatch still succeeds and the error counter moves', async () => {
    const broken = await startService('gateway', {
      BEACON_ADMIN_TOKEN: STACK_TOKEN,
      BEACON_PLATFORM_URL: stack.platform.url,
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
    stack.fake.options.chunks = 50;
    stack.fake.options.chunkDelayMs = 100;
    try {
      const res = await post(`${stack.gateway.url}/api/message`, {
        handle,
        text: 'a long answer please',
        async: true,
      });
      expect(res.status).toBe(202);
      const { taskId, traceId } = await res.json();
      await eventually(
        async () =>
          (await (await fetch(`${stack.gateway.url}/api/tasks/${taskId}`)).json()).output.length > 0,
        10_000,
      );
      await docker.getContainer(`beacon-${handle}`).kill();
      const task = await eventually(async () => {
        const t = await (await fetch(`${stack.gateway.url}/api/tasks/${taskId}`)).json();
        return t.status !== 'running' ? t : undefined;
      }, 20_000);
      expect(task.status).toBe('failed');
      await eventually(() => journal(traceId), 5000);
      expect(journal(traceId)).toMatchObject({ status: 'error' });
    } finally {
      stack.fake.options.chunks = 3;
      stack.fake.options.chunkDelayMs = 0;
    }
  });

  test("a recycled container's old proxy key stops working; a destroyed one's too", async () => {
    const quinn = `${prefix}-quinn`;
    const platformApi = `${stack.platform.url}/api/containers/${quinn}`;
    const liveKeys = async () => {
      const res = await fetch(`${stack.proxy.url}/api/keys?user=quinn`, { headers: stackAuth });
      const { keys } = (await res.json()) as {
        keys: { id: string; handle: string; revokedAt: string | null }[];
      };
      return keys.filter((k) => k.handle === quinn && !k.revokedAt).map((k) => k.id);
    };
    const askProxy = (key: string) =>
      post(
        `${stack.proxy.url}/v1/chat/completions`,
        { model: 'gpt-4o-mini', messages: [] },
        {
          authorization: `Bearer ${key}`,
        },
      );
    await stack.provision(quinn, 'quinn');
    const first = await liveKeys();
    expect(first).toHaveLength(1);
    // The kernel reads the key file; other agents read the same key from the standard variables.
    const env = (await docker.getContainer(`beacon-${quinn}`).inspect()).Config.Env;
    expect(env.some((e) => e.startsWith('BEACON_PROXY_KEY='))).toBe(false);
    const oldKey = (await execIn(quinn, 'cat', '/run/beacon/proxy-key')).trim();
    expect(oldKey).toStartWith('bk_');
    expect(env).toContain(`OPENAI_API_KEY=${oldKey}`);
    expect((await askProxy(oldKey)).status).toBe(200);
    const recycled = await fetch(`${platformApi}/recycle`, { method: 'POST', headers: stackAuth });
    expect(recycled.status).toBe(200);
    expect((await askProxy(oldKey)).status).toBe(401);
    const second = await liveKeys();
    expect(second).toHaveLength(1);
    expect(second).not.toEqual(first);
    expect((await fetch(platformApi, { method: 'DELETE', headers: stackAuth })).status).toBe(204);
    expect(await liveKeys()).toEqual([]);
  });

  test('nothing left behind: removed behind our back, its key is refused; a failed provision leaves no key or file', async () => {
    const askProxy = (key: string) =>
      post(
        `${stack.proxy.url}/v1/chat/completions`,
        { model: 'gpt-4o-mini', messages: [] },
        { authorization: `Bearer ${key}` },
      );
    const liveKeys = async (handle: string) => {
      const res = await fetch(`${stack.proxy.url}/api/keys?handle=${handle}`, { headers: stackAuth });
      return ((await res.json()).keys as { revokedAt: string | null }[]).filter((k) => !k.revokedAt);
    };
    const gone = `${prefix}-rmf`;
    await stack.provision(gone, 'rita');
    const key = (await execIn(gone, 'cat', '/run/beacon/proxy-key')).trim();
    expect((await askProxy(key)).status).toBe(200);
    await docker.getContainer(`beacon-${gone}`).remove({ force: true });
    await eventually(async () => (await askProxy(key)).status === 401, 10_000);
    expect(await liveKeys(gone)).toEqual([]);

    const broken = `${prefix}-broken`;
    const res = await post(
      `${stack.platform.url}/api/containers`,
      { handle: broken, owner: 'rita', command: ['/no/such/binary'] },
      stackAuth,
    );
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(await liveKeys(broken)).toEqual([]);
    expect(readdirSync(join(work, 'secrets', 'default'))).not.toContain(broken);
  });

  test("a pooled container's AI calls are charged to the tenant holding it, and its key goes with it", async () => {
    const pool = `${stack.platform.url}/api/pools/${prefix}-p`;
    // A warm container, made before any tenant: its own key is the pool's, so the tenant's must be handed over.
    await eventually(async () => {
      const { pools } = await (await fetch(`${stack.platform.url}/api/pools`, { headers: stackAuth })).json();
      return pools[0]?.available === 1;
    }, 20_000);
    const acquired = await post(`${pool}/acquire`, { tenant: 'tess' }, stackAuth);
    expect(acquired.status).toBe(200);
    const { handle: pooled } = await acquired.json();
    await stack.healthy(pooled);
    const res = await post(`${stack.gateway.url}/api/message`, { handle: pooled, text: 'on whose bill?' });
    const body = await res.json();
    expect(body.status).toBe('ok');
    const row = await eventually(() => usageRow(body.traceId));
    expect(row).toMatchObject({ user: 'tess', handle: pooled });

    const tessKeys = async () => {
      const list = await fetch(`${stack.proxy.url}/api/keys?user=tess`, { headers: stackAuth });
      return ((await list.json()).keys as { revokedAt: string | null }[]).filter((k) => !k.revokedAt);
    };
    expect(await tessKeys()).toHaveLength(1);
    expect((await post(`${pool}/release`, { tenant: 'tess' }, stackAuth)).status).toBe(200);
    expect(await tessKeys()).toEqual([]);
  });
});
