import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasDocker } from '../support/deps';
import { ensureTestImage, handlePrefix, removeContainers, TEST_IMAGE } from '../support/docker';
import { startEngine } from '../support/engine';
import { freePort } from '../support/ports';
import { type RunningService, startService } from '../support/service';
import { sseClient } from '../support/sse';
import { eventually } from '../support/wait';

const available = await hasDocker();
const ADMIN = 'signals-admin-token-0123456789';
const auth = { authorization: `Bearer ${ADMIN}` };
const work = mkdtempSync(join(tmpdir(), 'beacon-signals-'));
const prefix = handlePrefix('sig');
const instance = `signals-${prefix}`;

const call = (url: string, method = 'POST', body?: unknown, headers: Record<string, string> = auth) =>
  fetch(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
const ready = async (url: string) => {
  const res = await fetch(`${url}/ready`);
  return { status: res.status, body: (await res.json()) as { checks: Record<string, { status: string }> } };
};
const platformEnv = (name: string, extra: Record<string, string> = {}) => ({
  BEACON_ADMIN_TOKEN: ADMIN,
  BEACON_DATA_DIR: join(work, name),
  BEACON_INSTANCE: instance,
  BEACON_DEFAULT_IMAGE: TEST_IMAGE,
  BEACON_SECRETS_RUNTIME_DIR: join(work, `${name}-secrets`),
  ...extra,
});

afterAll(async () => {
  if (available) await removeContainers(prefix);
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!available)('readiness names what each service cannot work without', () => {
  test('platform: its Docker engine stopped → /ready 503 and /health down naming docker; back → 200', async () => {
    const engine = await startEngine();
    const platform = await startService(
      'platform',
      platformEnv('ready-platform', { DOCKER_HOST: engine.host }),
    );
    try {
      expect(await ready(platform.url)).toMatchObject({
        status: 200,
        body: { checks: { docker: { status: 'ok' }, database: { status: 'ok' } } },
      });
      await engine.stop();
      const down = await ready(platform.url);
      expect(down.status).toBe(503);
      expect(down.body.checks.docker?.status).toBe('error');
      expect((await fetch(`${platform.url}/health/ready`)).status).toBe(503);
      const health = await fetch(`${platform.url}/health`);
      expect(health.status).toBe(503);
      expect((await health.json()).status).toBe('down');
      // Liveness asks nothing of the engine: the process is fine, restarting it would not help.
      expect((await fetch(`${platform.url}/health/live`)).status).toBe(200);
      await engine.start();
      await eventually(async () => (await ready(platform.url)).status === 200, 10_000);
    } finally {
      await platform.stop();
      await engine.remove();
    }
  }, 60_000);

  test('proxy: its database on a full disk → /ready 503 naming the database; space again → 200', async () => {
    const dir = join(work, 'ready-proxy');
    mkdirSync(dir, { recursive: true });
    const mount = Bun.spawnSync(['mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir]);
    if (mount.exitCode !== 0) throw new Error(`mount a tmpfs for the proxy's data: ${mount.stderr}`);
    const proxy = await startService('proxy', { BEACON_DATA_DIR: dir });
    try {
      expect((await ready(proxy.url)).status).toBe(200);
      // Fill the disk: the next write of the database fails.
      Bun.spawnSync(['dd', 'if=/dev/zero', `of=${join(dir, 'filler')}`, 'bs=64k']);
      const full = await eventually(async () => {
        const r = await ready(proxy.url);
        return r.status === 503 ? r : undefined;
      });
      expect(full.body.checks.database?.status).toBe('error');
      expect((await (await fetch(`${proxy.url}/health`)).json()).status).toBe('down');
      rmSync(join(dir, 'filler'));
      await eventually(async () => (await ready(proxy.url)).status === 200, 10_000);
    } finally {
      await proxy.stop();
      Bun.spawnSync(['umount', dir]);
    }
  }, 60_000);

  test('gateway: the platform away → /ready 503 naming it (a dispatch must find its kernel); back → 200', async () => {
    const port = String(await freePort());
    const env = platformEnv('ready-gw-platform', { BEACON_PORT: port });
    let platform = await startService('platform', env);
    const gateway = await startService('gateway', {
      BEACON_ADMIN_TOKEN: ADMIN,
      BEACON_DATA_DIR: join(work, 'ready-gateway'),
      BEACON_PLATFORM_URL: platform.url,
    });
    try {
      await eventually(async () => (await ready(gateway.url)).status === 200, 10_000);
      await platform.stop();
      const away = await ready(gateway.url);
      expect(away.status).toBe(503);
      expect(away.body.checks.platform?.status).toBe('error');
      platform = await startService('platform', env);
      await eventually(async () => (await ready(gateway.url)).status === 200, 10_000);
    } finally {
      await gateway.stop();
      await platform.stop();
    }
  }, 60_000);
});

describe.skipIf(!available)('the audit trail: who changed what, on every service that mutates', () => {
  let platform: RunningService;
  let proxy: RunningService;
  let gateway: RunningService;
  beforeAll(async () => {
    await ensureTestImage();
    proxy = await startService('proxy', {
      BEACON_ADMIN_TOKEN: ADMIN,
      BEACON_DATA_DIR: join(work, 'audit-proxy'),
    });
    platform = await startService('platform', platformEnv('audit-platform'));
    gateway = await startService('gateway', {
      BEACON_ADMIN_TOKEN: ADMIN,
      BEACON_API_TOKEN: 'signals-api-token-0123456789',
      BEACON_DATA_DIR: join(work, 'audit-gateway'),
      BEACON_PLATFORM_URL: platform.url,
    });
  });
  afterAll(async () => {
    await Promise.all([platform?.stop(), proxy?.stop(), gateway?.stop()]);
  });

  const audit = async (url: string, query = '') => {
    const res = await fetch(`${url}/api/audit${query}`, { headers: auth });
    expect(res.status).toBe(200);
    return ((await res.json()) as { entries: Record<string, unknown>[] }).entries;
  };

  test('platform: every container action, with the token named by fingerprint and the request id', async () => {
    const handle = `${prefix}-audit`;
    const created = await call(`${platform.url}/api/containers?wait=false`, 'POST', {
      handle,
      health: 'none',
    });
    expect(created.status).toBe(201);
    const requestId = created.headers.get('x-request-id');
    for (const verb of ['stop', 'start', 'restart', 'recycle'])
      expect((await call(`${platform.url}/api/containers/${handle}/${verb}`)).status).toBe(200);
    expect((await call(`${platform.url}/api/containers/${handle}`, 'DELETE')).status).toBe(204);
    expect((await call(`${platform.url}/api/containers/${prefix}-nobody/stop`)).status).toBe(404);

    const entries = await audit(platform.url);
    expect(entries.map((e) => [e.action, e.target, e.outcome])).toEqual([
      ['container.stop', `${prefix}-nobody`, 'refused'],
      ['container.delete', handle, 'ok'],
      ['container.recycle', handle, 'ok'],
      ['container.restart', handle, 'ok'],
      ['container.start', handle, 'ok'],
      ['container.stop', handle, 'ok'],
      ['container.create', handle, 'ok'],
    ]);
    const first = entries.at(-1);
    expect(first?.actor).toMatch(/^admin-token:[0-9a-f]{8}$/);
    expect(first?.requestId).toBe(requestId);
    expect(JSON.stringify(entries)).not.toContain(ADMIN);
    // Filters, and bad ones named.
    expect((await audit(platform.url, '?action=container.stop')).length).toBe(2);
    expect((await audit(platform.url, `?target=${handle}&action=container.create`)).length).toBe(1);
    expect((await audit(platform.url, '?from=2999-01-01T00:00:00Z')).length).toBe(0);
    const bad = await fetch(`${platform.url}/api/audit?from=yesterday`, { headers: auth });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toContain('query.from');
    expect((await fetch(`${platform.url}/api/audit`)).status).toBe(401);
  }, 60_000);

  test('proxy: keys minted and revoked, quotas changed', async () => {
    const minted = await call(`${proxy.url}/api/keys`, 'POST', { user: 'ann' });
    const { id } = (await minted.json()) as { id: string };
    expect((await call(`${proxy.url}/api/quotas/ann`, 'PUT', { dailyUsd: 5 })).status).toBe(200);
    expect((await call(`${proxy.url}/api/keys/${id}`, 'DELETE')).status).toBe(204);
    const entries = await audit(proxy.url);
    expect(entries.map((e) => [e.action, e.target, e.outcome])).toEqual([
      ['key.revoke', id, 'ok'],
      ['quota.set', 'ann', 'ok'],
      ['key.mint', `${id} (ann)`, 'ok'],
    ]);
  });

  test('gateway: artifacts written and deleted, by the API token', async () => {
    const api = { authorization: 'Bearer signals-api-token-0123456789' };
    const put = await fetch(`${gateway.url}/api/artifacts/notes/a.txt`, {
      method: 'POST',
      headers: { ...api, 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(put.status).toBe(201);
    expect(
      (await fetch(`${gateway.url}/api/artifacts/notes/a.txt`, { method: 'DELETE', headers: api })).status,
    ).toBe(204);
    const entries = await audit(gateway.url);
    expect(entries.map((e) => [e.action, e.target, e.outcome])).toEqual([
      ['artifact.delete', 'notes/a.txt', 'ok'],
      ['artifact.put', 'notes/a.txt', 'ok'],
    ]);
    expect(entries[0]?.actor).toMatch(/^api-token:[0-9a-f]{8}$/);
  });
});

describe.skipIf(!available)(
  'no lost events: the gateway resumes the platform stream across a restart',
  () => {
    test('the platform restarted during a burst of container events: each reaches /api/events once', async () => {
      await ensureTestImage();
      const port = String(await freePort());
      const env = platformEnv('resume-platform', { BEACON_PORT: port });
      let platform = await startService('platform', env);
      const gateway = await startService('gateway', {
        BEACON_ADMIN_TOKEN: ADMIN,
        BEACON_DATA_DIR: join(work, 'resume-gateway'),
        BEACON_PLATFORM_URL: platform.url,
      });
      const client = await sseClient(`${gateway.url}/api/events`);
      const handles = Array.from({ length: 8 }, (_, i) => `${prefix}-burst${i}`);
      const create = async (handle: string) =>
        expect(
          (await call(`${platform.url}/api/containers?wait=false`, 'POST', { handle, health: 'none' }))
            .status,
        ).toBe(201);
      try {
        await eventually(async () => (await ready(gateway.url)).status === 200, 10_000);
        for (const h of handles.slice(0, 4)) await create(h);
        await platform.stop();
        platform = await startService('platform', env);
        // Made before the relay is back (it retries after 1 s): only a replay brings these.
        for (const h of handles.slice(4)) await create(h);
        const created = (h: string) =>
          client.events.filter((e) => e.event === 'container.created' && JSON.parse(e.data).handle === h);
        await eventually(() => handles.every((h) => created(h).length > 0), 20_000);
        await Bun.sleep(500);
        for (const h of handles) expect(created(h)).toHaveLength(1);
        const ids = client.events.filter((e) => e.event.startsWith('container.')).map((e) => e.data);
        expect(new Set(ids).size).toBe(ids.length);
        expect(client.events.some((e) => e.event === 'platform.reconcile')).toBe(false);
      } finally {
        client.close();
        await gateway.stop();
        await platform.stop();
      }
    }, 90_000);
  },
);

test('a Last-Event-ID from before what the platform kept is reported as a gap, not skipped', async () => {
  const { SseBroadcaster, SSE_GAP_EVENT } = await import('@beacon/core');
  const history = Array.from({ length: 5 }, (_, i) => ({
    id: 101 + i,
    type: 'container.started',
    data: { i },
  }));
  const sse = new SseBroadcaster({ history });
  expect(sse.broadcast('container.stopped', {})).toBe(106);
  const read = async (lastId: string) => {
    const controller = new AbortController();
    const res = sse.connect(lastId, controller.signal);
    const reader = res.body?.getReader();
    let text = '';
    while (!text.includes('id: 106')) text += new TextDecoder().decode((await reader?.read())?.value);
    controller.abort();
    return text;
  };
  const resumed = await read('103');
  expect(resumed).not.toContain(SSE_GAP_EVENT);
  expect(resumed).not.toContain('id: 103\n');
  expect(resumed).toContain('id: 104\n');
  const gap = await read('50');
  expect(gap).toContain(`event: ${SSE_GAP_EVENT}\ndata: {"after":50,"oldest":101,"latest":106}`);
  expect(gap).toContain('id: 101\n');
  sse.close();
});
