/**
 * Kernels that drive the real Codex CLI and Claude Code, in the images build.sh makes, through the gateway
 * (NATS and HTTP) and the proxy, over a stand-in provider (tests/support/fake-upstream.ts) that answers with a
 * call of the CLI's shell tool, then with text.
 */
import { Database } from 'bun:sqlite';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasDocker, hasTool } from '../support/deps';
import { execIn, handlePrefix, removeContainers } from '../support/docker';
import { post } from '../support/http';
import { type Stack, stackAuth, startStack } from '../support/stack';
import { eventually } from '../support/wait';

const available = (await hasDocker()) && hasTool('nats-server');
const prefix = handlePrefix('agents');
const work = mkdtempSync(join(tmpdir(), 'beacon-agents-'));
const TOOL = 'echo beacon-tool-ran';
/** A tool call that never ends by itself (Claude Code refuses a plain `sleep`). */
const WAIT = 'tail -s 37 -f /dev/null';

async function build(image: string, agent: string) {
  const proc = Bun.spawn(['bash', 'distro/images/kernel/build.sh', image, agent], {
    stdout: 'pipe',
    stderr: 'pipe',
  });
  if ((await proc.exited) !== 0) throw new Error(`${agent} image: ${await new Response(proc.stderr).text()}`);
}

const drivers = [
  { agent: 'codex', shell: 'shell', handle: `${prefix}-cody`, owner: 'cody', transport: 'nats' },
  { agent: 'claude', shell: 'Bash', handle: `${prefix}-clara`, owner: 'clara', transport: 'http' },
] as const;

describe.skipIf(!available)('kernels that drive agent CLIs', () => {
  let stack: Stack;

  beforeAll(async () => {
    await Promise.all(drivers.map((d) => build(`beacon-kernel-${d.agent}:e2e`, d.agent)));
    stack = await startStack(work, { fake: { toolCommand: TOOL } });
    for (const d of drivers)
      await stack.provision(d.handle, d.owner, { image: `beacon-kernel-${d.agent}:e2e` });
  }, 600_000);

  afterAll(async () => {
    await removeContainers(prefix);
    await stack?.stop();
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  const rowsOf = (traceId: string) => {
    const db = new Database(join(stack.proxyData, 'proxy.sqlite'), { readonly: true });
    try {
      return db.query('SELECT * FROM usage WHERE trace_id = ?').all(traceId) as Record<
        string,
        number | string
      >[];
    } finally {
      db.close();
    }
  };
  const journal = (traceId: string) =>
    readFileSync(join(stack.home, 'system', 'logs', `${new Date().toISOString().slice(0, 10)}.jsonl`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((l) => l.traceId === traceId);
  const gatewayOf = (transport: 'nats' | 'http') =>
    transport === 'nats' ? stack.gateway : stack.httpGateway;
  const processes = (handle: string) => execIn(handle, 'ps', '-o', 'pid,args');

  describe.each(drivers)('$agent', ({ agent, shell, handle, owner, transport }) => {
    test(`a message over ${transport}: the tool ran, the answer, every call charged to the owner, log = usage`, async () => {
      const gw = gatewayOf(transport);
      const res = await post(`${gw.url}/api/message`, {
        handle,
        text: 'list the workspace',
        sessionId: 'one',
      });
      const body = await res.json();
      expect({ status: res.status, error: body.error }).toEqual({ status: 200, error: null });
      expect(body.result).toMatchObject({ text: 'tok0 tok1 tok2 ', toolsUsed: [shell] });
      const rows = rowsOf(body.traceId);
      expect(rows.length).toBeGreaterThanOrEqual(2);
      for (const row of rows) expect(row).toMatchObject({ user: owner, handle, status: 'ok' });
      const cost = rows.reduce((s, r) => s + Number(r.cost_usd), 0);
      expect(cost).toBeGreaterThan(0);
      // Answers give micro-dollars: within half of one.
      expect(Math.abs(body.result.usage.costUsd - cost)).toBeLessThanOrEqual(5.000001e-7);
      const line = await eventually(() => journal(body.traceId));
      expect(line).toMatchObject({ handle, status: 'ok', toolsUsed: [shell] });
      const usage = await (
        await fetch(`${stack.proxy.url}/api/usage?user=${owner}&groupBy=user`, { headers: stackAuth })
      ).json();
      expect(usage.rows[0].costUsd).toBeCloseTo(line.costUsd, 2);
      expect(Math.abs(line.costUsd - cost)).toBeLessThanOrEqual(5.000001e-7);
    });

    test('the next message of the session continues it, after a restart of the container too', async () => {
      const gw = gatewayOf(transport);
      const restarted = await post(`${stack.platform.url}/api/containers/${handle}/restart`, {}, stackAuth);
      expect(restarted.status).toBe(200);
      await stack.healthy(handle);
      const before = stack.fake.calls.length;
      const res = await post(`${gw.url}/api/message`, {
        handle,
        text: 'and what did you find?',
        sessionId: 'one',
      });
      expect(res.status).toBe(200);
      const asked = stack.fake.calls.slice(before).map((c) => JSON.stringify(c.body));
      expect(
        asked.some((b) => b.includes('list the workspace') && b.includes('and what did you find?')),
      ).toBe(true);
    });

    test('a cancel during a tool call ends the task as cancelled and leaves no CLI process', async () => {
      const gw = gatewayOf(transport);
      stack.fake.options.toolCommand = WAIT;
      try {
        const res = await post(`${gw.url}/api/message`, { handle, text: 'wait for it', async: true });
        expect(res.status).toBe(202);
        const { taskId } = await res.json();
        await eventually(async () => (await processes(handle)).includes(WAIT), 30_000);
        const cancel = await post(`${gw.url}/api/tasks/${taskId}/cancel`, {});
        expect(cancel.status).toBe(202);
        const task = await eventually(async () => {
          const t = await (await fetch(`${gw.url}/api/tasks/${taskId}`)).json();
          return t.status !== 'running' && t;
        }, 15_000);
        expect(task.status).toBe('cancelled');
        const left = await processes(handle);
        expect(left).not.toContain(WAIT);
        expect(left).not.toMatch(agent === 'codex' ? /codex exec/ : /claude -p/);
        const again = await post(`${gw.url}/api/tasks/${taskId}/cancel`, {});
        expect(again.status).toBe(409);
      } finally {
        stack.fake.options.toolCommand = TOOL;
      }
    });
  });
});
