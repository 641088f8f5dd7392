import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type BusMessage, type ContainerEvent, createMemoryBus } from '@beacon/core';
import { createApp } from '../../packages/platform/src/app';
import { createDockerClient } from '../../packages/platform/src/clients/docker';
import { createSecrets } from '../../packages/platform/src/clients/secrets';
import { DockerEventWatcher } from '../../packages/platform/src/lifecycle/engine-events';
import { createPlatformEvents } from '../../packages/platform/src/lifecycle/events';
import { createReleases } from '../../packages/platform/src/lifecycle/releases';
import { HealthMonitor } from '../../packages/platform/src/observe/health-monitor';
import {
  createPlatformParts,
  docker,
  execIn,
  onTestEngine,
  removeContainers,
  TEST_IMAGE,
} from '../support/docker';
import { jsonPost } from '../support/http';
import { eventually } from '../support/wait';

const { available, prefix } = await onTestEngine('life');
const runtimeDir = mkdtempSync('/dev/shm/beacon-life-');

/**
 * A platform on the real engine with its watcher, monitor, fast restart backoff, real secret files and a
 * key minter that records what it minted and revoked (the proxy's side is the e2e and fault tests').
 */
function setup({ instance = 'default', engineForgetsOom = false } = {}) {
  const bus = createMemoryBus();
  const seen: ContainerEvent[] = [];
  bus.subscribe('beacon.platform.events', (m: BusMessage) => {
    seen.push(m.data as ContainerEvent);
  });
  const minted = new Set<string>();
  const revoked: string[] = [];
  // Per instance, as deps.ts makes it: a platform never sees another instance's files.
  const secrets = createSecrets({
    runtimeDir: join(runtimeDir, instance),
    mode: 'hardened',
    log: createPlatformParts().log,
  });
  let refuse = false;
  const engine = createDockerClient(docker, instance);
  // The engine's race, forced: its exit says OOMKilled false (Docker 20.10 when the exit is told first).
  const client: typeof engine = engineForgetsOom
    ? {
        ...engine,
        inspect: async (id) => {
          const detail = await engine.inspect(id);
          return detail?.exit ? { ...detail, exit: { ...detail.exit, oomKilled: false } } : detail;
        },
      }
    : engine;
  const parts = createPlatformParts(client, {
    events: createPlatformEvents(bus, createPlatformParts().log),
    secrets,
    keys: {
      mint: async (_user, handle) => {
        minted.add(handle);
        return `bk_test_${handle}`;
      },
      revokeHandle: async (handle) => {
        if (refuse) throw new Error('the proxy is unreachable');
        revoked.push(handle);
      },
      bind: async () => {},
    },
    restartPolicy: { initialMs: 400, maxMs: 5000 },
  });
  const watcher = new DockerEventWatcher({
    docker: client,
    metrics: parts.metrics,
    log: parts.log,
    events: createPlatformEvents(bus, parts.log),
    reconcile: () => parts.reconcile(),
    onState: (h, a, id) => parts.containers.applyEngineAction(h, a, id),
    instance,
    reconnectMs: 300,
  });
  const monitor = new HealthMonitor({
    containers: parts.containers,
    docker: client,
    metrics: parts.metrics,
    log: parts.log,
    intervalMs: 60_000,
    timeoutMs: 500,
    retries: 1,
  });
  watcher.start();
  const events = (handle: string, type: string) => seen.filter((e) => e.handle === handle && e.type === type);
  return {
    ...parts,
    watcher,
    monitor,
    seen,
    events,
    minted,
    revoked,
    refuseRevokes: (value: boolean) => {
      refuse = value;
    },
    app: createApp({ identity: { name: 'platform', version: 't' }, ...parts }),
    async close() {
      await watcher.stop();
      parts.containers.close();
    },
  };
}

describe.skipIf(!available)('container lifecycle on a real engine', () => {
  afterAll(async () => {
    await removeContainers(prefix);
    rmSync(runtimeDir, { recursive: true, force: true });
  });

  test('stopped through the API it stays stopped: not checked, not recycled, not restarted, until started', async () => {
    const p = setup();
    try {
      await eventually(() => p.watcher.connections === 1);
      const handle = `${prefix}-stop`;
      await p.containers.create({ handle });
      // Per-handle counters from 0 at create: increase() sees their first event.
      const counted = await p.registry.metrics();
      expect(counted).toContain(`platform_container_oom_kills_total{handle="${handle}"} 0`);
      expect(counted).toContain(`platform_container_restarts_total{handle="${handle}"} 0`);
      const stopped = await (
        await p.app.request(`/api/containers/${handle}/stop`, { method: 'POST' })
      ).json();
      expect(stopped).toMatchObject({ state: 'stopped', desired: 'stopped' });
      await Bun.sleep(1000); // longer than the restart backoff
      for (let i = 0; i < 3; i++) expect((await p.monitor.checkOnce()).has(handle)).toBe(false);
      expect((await docker.getContainer(`beacon-${handle}`).inspect()).State.Running).toBe(false);
      expect(p.events(handle, 'container.died')).toEqual([]);
      expect(await p.registry.metrics()).toContain(
        `platform_container_desired_running{handle="${handle}"} 0`,
      );
      const started = await (
        await p.app.request(`/api/containers/${handle}/start`, { method: 'POST' })
      ).json();
      expect(started).toMatchObject({ state: 'running', desired: 'running', restarts: 0 });
    } finally {
      await p.close();
    }
  });

  test('a process that keeps exiting is restarted with growing delays; the record says how it ended', async () => {
    const p = setup();
    try {
      await eventually(() => p.watcher.connections === 1);
      const handle = `${prefix}-crash`;
      await p.containers.create({ handle, command: ['sh', '-c', 'sleep 0.3; exit 3'], health: 'none' });
      const restarted = await eventually(() => p.events(handle, 'container.restarted')[2], 15_000);
      expect(restarted.detail).toMatchObject({ restarts: 3 });
      const deaths = p.events(handle, 'container.died');
      expect(deaths.length).toBeGreaterThanOrEqual(3);
      expect(deaths[0]?.detail).toMatchObject({ exitCode: 3 });
      const gaps = p
        .events(handle, 'container.restarted')
        .map((r, i) => Date.parse(r.at) - Date.parse(deaths[i]?.at ?? r.at));
      // Waits of 400 ms, then 800, then 1600 (each gap also holds the engine's start time, ~0.3 s).
      const [first = 0, second = 0, third = 0] = gaps;
      expect(first).toBeGreaterThanOrEqual(380);
      expect(second - first).toBeGreaterThanOrEqual(300);
      expect(third - second).toBeGreaterThanOrEqual(650);
      const view = await (await p.app.request(`/api/containers/${handle}`)).json();
      expect(view.restarts).toBeGreaterThanOrEqual(3);
      expect(view.lastExit).toMatchObject({ code: 3, oomKilled: false });
      // Between a death and its restart, the view says when the restart is due (the console's countdown).
      const due = await eventually(
        async () => (await (await p.app.request(`/api/containers/${handle}`)).json()).nextRestartAt,
        10_000,
      );
      expect(Math.abs(Date.parse(due) - Date.now())).toBeLessThan(10_000);
      expect(await p.registry.metrics()).toMatch(
        new RegExp(`platform_container_restarts_total\\{handle="${handle}"\\} [3-9]`),
      );
      // Stopped through the API: the loop ends.
      await p.containers.stop(handle);
      const count = p.events(handle, 'container.restarted').length;
      await Bun.sleep(2500);
      expect(p.events(handle, 'container.restarted').length).toBe(count);
    } finally {
      await p.close();
    }
  });

  test('one OOM kill is one container.oom event and one count, and the record says oomKilled', async () => {
    const p = setup();
    try {
      await eventually(() => p.watcher.connections === 1);
      const handle = `${prefix}-oom`;
      await p.containers.create({
        handle,
        memoryMb: 16,
        health: 'none',
        // dd is the container's process: the kill ends the container.
        command: ['dd', 'if=/dev/zero', 'of=/dev/shm/fill', 'bs=1M', 'count=48'],
      });
      await eventually(() => p.containers.find(handle)?.lastExit?.reason === 'oom', 10_000);
      await p.containers.stop(handle);
      await Bun.sleep(500);
      expect(p.events(handle, 'container.oom')).toHaveLength(1);
      expect(p.events(handle, 'container.died')).toHaveLength(0);
      expect(await p.registry.metrics()).toContain(
        `platform_container_oom_kills_total{handle="${handle}"} 1\n`,
      );
      expect(p.containers.find(handle)?.lastExit).toMatchObject({
        oomKilled: true,
        reason: 'oom',
        code: 137,
      });
    } finally {
      await p.close();
    }
  });

  test('killed again after a restart, however soon, is another OOM: each run counted once; restarts counted from 0', async () => {
    const p = setup();
    try {
      await eventually(() => p.watcher.connections === 1);
      const handle = `${prefix}-oomloop`;
      await p.containers.create({
        handle,
        memoryMb: 16,
        health: 'none',
        command: ['dd', 'if=/dev/zero', 'of=/dev/shm/fill', 'bs=1M', 'count=48'],
      });
      expect(await p.registry.metrics()).toContain(`platform_container_restarts_total{handle="${handle}"} 0`);
      // Restarted after 400 ms, then 800 ms: three runs in well under 30 s, each killed.
      await eventually(() => (p.containers.find(handle)?.restarts ?? 0) >= 2, 20_000);
      await eventually(() => p.containers.find(handle)?.state === 'stopped', 10_000);
      await p.containers.stop(handle);
      await Bun.sleep(500);
      // Three runs at least, each its own incident (before, one within 30 s of the last was swallowed).
      const ooms = p.events(handle, 'container.oom').length;
      expect(ooms).toBeGreaterThanOrEqual(3);
      expect(await p.registry.metrics()).toContain(
        `platform_container_oom_kills_total{handle="${handle}"} ${ooms}\n`,
      );
    } finally {
      await p.close();
    }
  });

  test('an exit the engine does not flag as OOM is still OOM once its oom event was seen', async () => {
    const p = setup({ engineForgetsOom: true });
    try {
      await eventually(() => p.watcher.connections === 1);
      const handle = `${prefix}-oom2`;
      await p.containers.create({
        handle,
        memoryMb: 16,
        health: 'none',
        command: ['dd', 'if=/dev/zero', 'of=/dev/shm/fill', 'bs=1M', 'count=48'],
      });
      await eventually(() => p.containers.find(handle)?.state === 'stopped', 10_000);
      await eventually(() => p.containers.find(handle)?.lastExit?.oomKilled === true, 2_000);
      expect(p.containers.find(handle)?.lastExit).toMatchObject({ reason: 'oom', code: 137 });
      expect(p.events(handle, 'container.oom')).toHaveLength(1);
      await p.containers.stop(handle);
    } finally {
      await p.close();
    }
  });

  test('DELETE and a recycle are reported as such, never as a death', async () => {
    const p = setup();
    try {
      await eventually(() => p.watcher.connections === 1);
      const handle = `${prefix}-del`;
      await p.containers.create({ handle });
      await p.containers.recycle(handle, 'manual');
      expect((await p.app.request(`/api/containers/${handle}`, { method: 'DELETE' })).status).toBe(204);
      await eventually(() => p.events(handle, 'container.destroyed').length === 2);
      await Bun.sleep(300);
      expect(p.events(handle, 'container.recycled')).toHaveLength(1);
      expect(p.events(handle, 'container.died')).toEqual([]);
      expect(p.events(handle, 'container.oom')).toEqual([]);
    } finally {
      await p.close();
    }
  });

  test('create answers once the health check passes; past the deadline a 504 names the check and keeps the container', async () => {
    const p = setup();
    try {
      const slow = `${prefix}-slow`;
      const started = Date.now();
      const res = await p.app.request(
        '/api/containers',
        jsonPost({ handle: slow, command: ['sh', '-c', 'sleep 1; exec httpd -f -p 7681 -h /www'] }),
      );
      expect(res.status).toBe(201);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      // The very next request to it is answered.
      const ip = (await p.docker.inspect(`beacon-${slow}`))?.ip;
      expect((await fetch(`http://${ip}:7681/health`)).status).toBe(200);

      const quick = await p.app.request(
        '/api/containers?wait=false',
        jsonPost({ handle: `${prefix}-nowait`, command: ['sleep', '3600'] }),
      );
      expect(quick.status).toBe(201);

      const dead = await p.app.request(
        '/api/containers',
        jsonPost({ handle: `${prefix}-dead`, command: ['sh', '-c', 'exit 4'] }),
      );
      expect(dead.status).toBe(502);
      expect((await dead.json()).error.message).toContain(
        'exited with code 4 before the health check GET :7681/health passed',
      );
      expect(p.containers.find(`${prefix}-dead`)).toBeDefined();

      const bad = await p.app.request('/api/containers?wait=maybe', jsonPost({ handle: `${prefix}-q` }));
      expect(bad.status).toBe(400);
      expect((await bad.json()).error.message).toContain('query.wait');
    } finally {
      await p.close();
    }
  });

  test('a container of another instance on the same engine is invisible and untouched', async () => {
    const ours = setup();
    const theirs = setup({ instance: `${prefix}-other` });
    try {
      await eventually(() => ours.watcher.connections === 1 && theirs.watcher.connections === 1);
      const handle = `${prefix}-theirs`;
      await theirs.containers.create({ handle });
      const info = await docker.getContainer(`beacon-${handle}`).inspect();
      expect(info.Config.Labels['beacon.instance']).toBe(`${prefix}-other`);
      await ours.reconcile(true);
      expect(ours.containers.find(handle)).toBeUndefined();
      expect((await ours.app.request(`/api/containers/${handle}`)).status).toBe(404);
      expect(await ours.docker.inspect(info.Id)).toBeUndefined();
      await docker.getContainer(info.Id).kill();
      await eventually(() => theirs.events(handle, 'container.died').length === 1);
      expect(ours.events(handle, 'container.died')).toEqual([]);
      expect(ours.revoked).not.toContain(handle);
      await theirs.containers.destroy(handle);
    } finally {
      await ours.close();
      await theirs.close();
    }
  });

  test('nothing left behind: removed behind our back, a failed provision, a delete while the proxy is down', async () => {
    const p = setup();
    try {
      await eventually(() => p.watcher.connections === 1);
      // The key is a file the container reads, not an environment variable.
      const rm = `${prefix}-rmf`;
      await p.containers.create({ handle: rm });
      expect((await execIn(rm, 'cat', '/run/beacon/proxy-key')).trim()).toBe(`bk_test_${rm}`);
      const env = (await docker.getContainer(`beacon-${rm}`).inspect()).Config.Env.join(' ');
      expect(env).not.toContain('bk_test_');
      await docker.getContainer(`beacon-${rm}`).remove({ force: true });
      await eventually(() => p.revoked.includes(rm));
      expect(p.containers.find(rm)?.state).toBe('gone');
      expect(existsSync(join(runtimeDir, 'default', rm))).toBe(false);

      const failed = `${prefix}-nope`;
      const res = await p.app.request(
        '/api/containers',
        jsonPost({ handle: failed, image: 'no-such-image:1' }),
      );
      expect(res.status).toBe(400);
      expect((await res.json()).error.message).toBe(
        'image no-such-image:1 is not on the Docker engine: build or pull it first',
      );
      expect(p.minted.has(failed)).toBe(false);

      const broken = `${prefix}-broken`;
      const bad = await p.app.request(
        '/api/containers',
        jsonPost({ handle: broken, command: ['/no/such/binary'] }),
      );
      expect(bad.status).toBeGreaterThanOrEqual(400);
      expect(p.minted.has(broken)).toBe(true);
      expect(p.revoked).toContain(broken);
      expect(readdirSync(join(runtimeDir, 'default'))).not.toContain(broken);

      // The proxy is away during a DELETE: the release waits, and is done once it answers.
      const later = `${prefix}-later`;
      await p.containers.create({ handle: later });
      p.refuseRevokes(true);
      expect((await p.app.request(`/api/containers/${later}`, { method: 'DELETE' })).status).toBe(204);
      expect(p.revoked).not.toContain(later);
      p.refuseRevokes(false);
      await createReleases({ db: p.db, log: p.log, revokeKeys: async (h) => void p.revoked.push(h) }).retry();
      expect(p.revoked).toContain(later);
    } finally {
      await p.close();
    }
  });
});

describe.skipIf(!available)('reconcile at start', () => {
  test('records a crash left creating, and secret files with no container, are released', async () => {
    const p = setup();
    try {
      const handle = `${prefix}-crashed`;
      p.db.$client.exec(
        `INSERT INTO containers (handle, owner, image, spec, state, container_id, created_at) VALUES ('${handle}', 'x', '${TEST_IMAGE}', '{}', 'creating', NULL, 0)`,
      );
      await p.reconcile(true);
      expect(p.containers.find(handle)?.state).toBe('gone');
      expect(p.revoked).toContain(handle);
    } finally {
      await p.close();
    }
  });
});
