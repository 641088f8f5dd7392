/**
 * `bun run local` as a new operator runs it: the three services and a stand-in provider start, the console
 * answers its login (HTTP Basic, the admin token as password), a container answers a message; `bun run local
 * stop` ends exactly those processes.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../support/command';
import { hasDocker } from '../support/deps';
import { handlePrefix, removeContainers } from '../support/docker';
import { freePort } from '../support/ports';
import { buildKernelImage, KERNEL_IMAGE } from '../support/stack';

const available = await hasDocker();
const prefix = handlePrefix('local');
const dir = mkdtempSync(join(tmpdir(), 'beacon-local-'));
let env: Record<string, string> = {};
let ports: Record<string, number> = {};

const pidsOf = () =>
  ['upstream', 'proxy', 'platform', 'gateway'].map((s) =>
    Number(readFileSync(join(dir, 'pids', `${s}.pid`), 'utf8')),
  );
/** Running, not a zombie waiting for whoever adopted it (its command line is then empty). */
const alive = (pid: number) =>
  existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== '';

describe.skipIf(!available)('bun run local', () => {
  beforeAll(async () => {
    await buildKernelImage();
    ports = {
      platform: await freePort(),
      gateway: await freePort(),
      proxy: await freePort(),
      upstream: await freePort(),
    };
    env = {
      BEACON_LOCAL_DIR: dir,
      BEACON_KERNEL_IMAGE: KERNEL_IMAGE,
      BEACON_PLATFORM_PORT: String(ports.platform),
      BEACON_GATEWAY_PORT: String(ports.gateway),
      BEACON_PROXY_PORT: String(ports.proxy),
      BEACON_UPSTREAM_PORT: String(ports.upstream),
    };
  }, 120_000);

  afterAll(async () => {
    await runCommand(['bun', 'run', 'local', 'stop'], { env });
    await removeContainers(prefix);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('starts, says how to log in, answers a message; stop ends exactly its processes', async () => {
    const up = await runCommand(['bun', 'run', 'local'], { env });
    expect({ code: up.code, tail: up.code === 0 ? '' : up.output.slice(-2000) }).toEqual({
      code: 0,
      tail: '',
    });
    const token = readFileSync(join(dir, 'admin-token'), 'utf8').trim();
    expect(up.output).toContain(`http://localhost:${ports.platform}/admin`);
    expect(up.output).toContain('admin token as password');
    expect(up.output).toContain(token);

    const basic = `Basic ${Buffer.from(`operator:${token}`).toString('base64')}`;
    expect((await fetch(`http://127.0.0.1:${ports.platform}/admin`)).status).toBe(401);
    expect(
      (await fetch(`http://127.0.0.1:${ports.platform}/admin`, { headers: { authorization: basic } })).status,
    ).toBe(200);

    const handle = `${prefix}-ann`;
    const created = await fetch(`http://127.0.0.1:${ports.platform}/api/containers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ handle, owner: 'ann' }),
    });
    expect(created.status).toBe(201);
    const answer = await fetch(`http://127.0.0.1:${ports.gateway}/api/message`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ handle, text: 'hello' }),
    });
    expect(answer.status).toBe(200);
    expect((await answer.json()).result.text).toStartWith('tok0 ');

    const status = await runCommand(['bun', 'run', 'local', 'status'], { env });
    expect(status.output).toMatch(/upstream \d+\nproxy \d+\nplatform \d+\ngateway \d+/);
    // A second start does not start a second set.
    expect((await runCommand(['bun', 'run', 'local'], { env })).output).toContain('already running');

    const pids = pidsOf();
    const down = await runCommand(['bun', 'run', 'local', 'stop'], { env });
    expect(down.code).toBe(0);
    for (const pid of pids) expect({ pid, alive: alive(pid) }).toEqual({ pid, alive: false });
    expect(await fetch(`http://127.0.0.1:${ports.gateway}/health/live`).catch(() => 'closed')).toBe('closed');
  }, 180_000);
});
