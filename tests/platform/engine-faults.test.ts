/**
 * The engine's own faults never change what the operator asked: a container the engine stops while it shuts
 * down runs again once the engine is back (only a stop the engine outlives is an operator's), and a recycle
 * that cannot make its replacement (the proxy away: no key) leaves the old container running.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasDocker } from '../support/deps';
import { ensureTestImage, handlePrefix, removeContainers, TEST_IMAGE } from '../support/docker';
import { startEngine } from '../support/engine';
import { type RunningService, startService } from '../support/service';
import { eventually } from '../support/wait';

const available = await hasDocker();
const ADMIN = 'engine-faults-admin-0123456789';
const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
const prefix = handlePrefix('eng');
const work = mkdtempSync(join(tmpdir(), 'beacon-engine-faults-'));

const platformEnv = (name: string, extra: Record<string, string> = {}) => ({
  BEACON_ADMIN_TOKEN: ADMIN,
  BEACON_DATA_DIR: join(work, name),
  BEACON_INSTANCE: prefix,
  BEACON_DEFAULT_IMAGE: TEST_IMAGE,
  BEACON_SECRETS_RUNTIME_DIR: join(work, `${name}-secrets`),
  BEACON_RESTART_BACKOFF: '1',
  BEACON_RESTART_BACKOFF_MAX: '2',
  BEACON_ENGINE_STOP_GRACE: '3',
  BEACON_HEALTH_INTERVAL: '1',
  ...extra,
});

const container = async (platform: RunningService, handle: string) =>
  (await fetch(`${platform.url}/api/containers/${handle}`, { headers: auth })).json();
const create = async (platform: RunningService, handle: string) => {
  const res = await fetch(`${platform.url}/api/containers`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ handle, health: 'none' }),
  });
  if (res.status !== 201) throw new Error(`create ${handle}: ${res.status} ${await res.text()}`);
  return res.json();
};

describe.skipIf(!available)("the engine's faults and the operator's word", () => {
  beforeAll(ensureTestImage);
  afterAll(async () => {
    await removeContainers(prefix);
    rmSync(work, { recursive: true, force: true });
  });

  test('stopped behind the platform it stays stopped; stopped by its engine shutting down it runs again', async () => {
    const engine = await startEngine();
    const socket = engine.host.replace('unix://', '');
    const load = Bun.spawnSync(['bash', '-c', `docker save ${TEST_IMAGE} | docker -H ${engine.host} load`]);
    expect(load.exitCode).toBe(0);
    const platform = await startService('platform', platformEnv('engine', { DOCKER_HOST: engine.host }));
    const outside = `${prefix}-outside`;
    const survivor = `${prefix}-survivor`;
    try {
      await create(platform, outside);
      await create(platform, survivor);
      // `docker stop` from outside, the engine living on: the operator's word.
      const stop = await fetch(`http://localhost/containers/beacon-${outside}/stop?t=1`, {
        method: 'POST',
        unix: socket,
      } as RequestInit);
      expect(stop.status).toBe(204);
      await eventually(async () => (await container(platform, outside)).desired === 'stopped', 15_000);
      // The engine shuts down (stopping what runs on it) and comes back.
      await engine.stop();
      await Bun.sleep(1000);
      await engine.start();
      const back = await eventually(async () => {
        const c = await container(platform, survivor);
        return c.state === 'running' && c.docker?.state === 'running' ? c : undefined;
      }, 40_000);
      expect(back.desired).toBe('running');
      // The operator's stop still holds.
      await Bun.sleep(4000);
      expect(await container(platform, outside)).toMatchObject({ desired: 'stopped', state: 'stopped' });
    } finally {
      await platform.stop();
      await engine.remove();
    }
  }, 120_000);

  test("a platform restart goes on with a crash-looping container's backoff, not from the first step", async () => {
    const env = platformEnv('backoff', { BEACON_RESTART_BACKOFF_MAX: '120', BEACON_LOG_LEVEL: 'info' });
    const first = await startService('platform', env);
    const handle = `${prefix}-loop`;
    try {
      const res = await fetch(`${first.url}/api/containers`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ handle, health: 'none', command: ['sh', '-c', 'exit 3'] }),
      });
      expect(res.status).toBe(201);
      // Steps of 1, 2 and 4 s: three restarts, the fourth scheduled.
      await eventually(async () => (await container(first, handle)).restarts >= 3, 30_000);
      await first.stop();
      const second = await startService('platform', { ...env, BEACON_PORT: new URL(first.url).port });
      try {
        const scheduled = await eventually(() => {
          const steps = [
            ...second
              .output()
              .matchAll(/"event":"container.restart_scheduled","handle":"[^"]+","attempt":(\d+)/g),
          ];
          return steps.length ? Number(steps[0]?.[1]) : undefined;
        }, 20_000);
        expect(scheduled).toBeGreaterThanOrEqual(4);
      } finally {
        await second.stop();
      }
    } finally {
      await first.stop().catch(() => {});
    }
  }, 90_000);

  test('a recycle that cannot make its replacement (the proxy away) leaves the old container running, and says why', async () => {
    const proxy = await startService('proxy', {
      BEACON_ADMIN_TOKEN: ADMIN,
      BEACON_DATA_DIR: join(work, 'proxy'),
    });
    const platform = await startService('platform', platformEnv('recycle', { BEACON_PROXY_URL: proxy.url }));
    const handle = `${prefix}-kept`;
    try {
      const made = await create(platform, handle);
      await proxy.stop();
      const recycle = await fetch(`${platform.url}/api/containers/${handle}/recycle`, {
        method: 'POST',
        headers: auth,
      });
      expect(recycle.status).toBe(503);
      expect((await recycle.json()).error.message).toContain('proxy');
      const after = await container(platform, handle);
      expect(after).toMatchObject({ state: 'running', containerId: made.containerId });
      expect(after.docker.state).toBe('running');
      expect(platform.output()).toContain('recycle failed before the old container was touched');
    } finally {
      await platform.stop();
      await proxy.stop().catch(() => {});
    }
  }, 60_000);
});
