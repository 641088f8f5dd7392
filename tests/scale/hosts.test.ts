import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasDocker } from '../support/deps';
import { ensureTestImage, handlePrefix, removeContainers, TEST_IMAGE } from '../support/docker';
import { startEngine } from '../support/engine';
import { startFakeUpstream } from '../support/fake-upstream';
import { post } from '../support/http';
import { hasPostgres, startPostgres, type TestPostgres } from '../support/postgres';
import { type RunningService, startService } from '../support/service';
import { bridgeAddress, buildKernelImage, KERNEL_IMAGE } from '../support/stack';
import { eventually } from '../support/wait';

const available = (await hasDocker()) && hasPostgres();
const ADMIN = 'hosts-test-admin-token-0123456789';
const admin = { authorization: `Bearer ${ADMIN}` };
const prefix = handlePrefix('hosts');

type View = { handle: string; host: string; state: string };
const json = async (url: string, init: RequestInit = {}) => {
  const res = await fetch(url, { ...init, headers: { ...admin, ...(init.headers ?? {}) } });
  return { status: res.status, body: await res.json().catch(() => null) };
};
const names = (socket: string) =>
  Bun.spawnSync(['docker', '-H', socket, 'ps', '-a', '--format', '{{.Names}}']).stdout.toString();

/**
 * Two Docker hosts on this machine — the shared engine and one the test starts for itself (its own socket,
 * data and exec root, pid file and bridge) — each with its platform, both on one real PostgreSQL; the real
 * proxy (on every address, so containers on both bridges reach it) before a fake upstream, and a gateway on
 * each platform.
 */
describe.skipIf(!available)('scale-out: one platform per Docker host, one fleet', () => {
  const work = mkdtempSync(join(tmpdir(), 'beacon-hosts-'));
  let pg: TestPostgres;
  let engineB: Awaited<ReturnType<typeof startEngine>>;
  let a: RunningService;
  let b: RunningService;
  let fleetUrl = '';
  let proxy: RunningService;
  let gateways: RunningService[] = [];
  const fake = startFakeUpstream({ chunks: 2 });
  const proxyPort = () => new URL(proxy.url).port;
  const platformEnv = (host: string, extra: Record<string, string> = {}) => ({
    BEACON_PROXY_URL: `http://127.0.0.1:${proxyPort()}`,
    BEACON_ADMIN_TOKEN: ADMIN,
    BEACON_HOST_ID: host,
    BEACON_DATABASE_URL: fleetUrl,
    BEACON_DATA_DIR: join(work, host),
    BEACON_INSTANCE: `hosts-${prefix}`,
    BEACON_DEFAULT_IMAGE: TEST_IMAGE,
    BEACON_SECRETS_RUNTIME_DIR: join(work, `${host}-secrets`),
    ...extra,
  });
  const create = (on: RunningService, body: Record<string, unknown>) =>
    post(
      `${on.url}/api/containers`,
      { command: ['sleep', '3600'], health: 'none', memoryMb: 32, ...body },
      admin,
    );

  beforeAll(async () => {
    await ensureTestImage();
    pg = await startPostgres();
    fleetUrl = await pg.database('fleet');
    engineB = await startEngine();
    const load = Bun.spawnSync(['bash', '-c', `docker save ${TEST_IMAGE} | docker -H ${engineB.host} load`]);
    if (load.exitCode !== 0) throw new Error(`image not loaded: ${load.stderr}`);
    await buildKernelImage();
    const kernel = Bun.spawnSync([
      'bash',
      '-c',
      `docker save ${KERNEL_IMAGE} | docker -H ${engineB.host} load`,
    ]);
    if (kernel.exitCode !== 0) throw new Error(`kernel image not loaded: ${kernel.stderr}`);
    proxy = await startService('proxy', {
      BEACON_HOST: '0.0.0.0',
      BEACON_ADMIN_TOKEN: ADMIN,
      BEACON_DATA_DIR: join(work, 'proxy'),
      BEACON_UPSTREAM_OPENAI_URL: fake.url,
      BEACON_UPSTREAM_ANTHROPIC_URL: fake.url,
    });
    const bridgeA = await bridgeAddress();
    [a, b] = await Promise.all([
      startService(
        'platform',
        platformEnv('host-a', { BEACON_KERNEL_PROXY_URL: `http://${bridgeA}:${proxyPort()}` }),
      ),
      startService(
        'platform',
        platformEnv('host-b', {
          DOCKER_HOST: engineB.host,
          BEACON_KERNEL_PROXY_URL: `http://${engineB.address}:${proxyPort()}`,
        }),
      ),
    ]);
    gateways = await Promise.all(
      [a, b].map((p, i) =>
        startService('gateway', {
          BEACON_ADMIN_TOKEN: ADMIN,
          BEACON_PLATFORM_URL: p.url,
          BEACON_DATA_DIR: join(work, `gateway-${i}`),
          BEACON_HOME: join(work, `home-${i}`),
          BEACON_DISPATCH_TIMEOUT: '20',
        }),
      ),
    );
    await eventually(async () => {
      const { body } = await json(`${a.url}/api/hosts`);
      return body?.hosts?.filter((h: { state: string }) => h.state === 'up').length === 2;
    }, 20_000);
  }, 120_000);

  afterAll(async () => {
    for (const g of gateways) await g.stop();
    await a?.stop();
    await b?.stop();
    await proxy?.stop();
    fake.stop();
    await removeContainers(prefix);
    await engineB?.remove();
    await pg?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('a container is provisioned on the host asked for, through either platform', async () => {
    const onB = await create(a, { handle: `${prefix}-on-b`, host: 'host-b' });
    expect(onB.status).toBe(201);
    const onA = await create(b, { handle: `${prefix}-on-a`, host: 'host-a', memoryMb: 128 });
    expect(onA.status).toBe(201);
    // Each runs on its own host's engine only.
    expect(names(engineB.host)).toContain(`beacon-${prefix}-on-b`);
    expect(names(engineB.host)).not.toContain(`beacon-${prefix}-on-a`);
    expect(names('unix:///var/run/docker.sock')).toContain(`beacon-${prefix}-on-a`);
    expect(names('unix:///var/run/docker.sock')).not.toContain(`beacon-${prefix}-on-b`);
    // A host no platform runs is refused by name.
    const nowhere = await create(a, { handle: `${prefix}-nowhere`, host: 'host-z' });
    expect(nowhere.status).toBe(400);
    expect((await nowhere.json()).error.message).toContain('host-z');
  }, 60_000);

  test('without a host, a create goes to the host that reserves the least memory', async () => {
    // host-a reserves 128 MB, host-b 32 MB.
    const placed = await create(a, { handle: `${prefix}-placed` });
    expect(placed.status).toBe(201);
    expect(names(engineB.host)).toContain(`beacon-${prefix}-placed`);
  }, 60_000);

  test('either platform lists the whole fleet and answers for a handle on the other host', async () => {
    for (const on of [a, b]) {
      const { body } = await json(`${on.url}/api/containers`);
      const mine = (body.containers as View[]).filter((v) => v.handle.startsWith(prefix));
      expect(mine.map((v) => [v.handle, v.host, v.state])).toEqual([
        [`${prefix}-on-a`, 'host-a', 'running'],
        [`${prefix}-on-b`, 'host-b', 'running'],
        [`${prefix}-placed`, 'host-b', 'running'],
      ]);
    }
    // What a gateway asks before it dispatches: the kernel's address, from whichever platform it knows.
    const remote = await json(`${a.url}/api/containers/${prefix}-on-b`);
    expect(remote.status).toBe(200);
    expect(remote.body.docker.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const stopped = await json(`${a.url}/api/containers/${prefix}-on-b/stop`, { method: 'POST' });
    expect(stopped.body.state).toBe('stopped');
    const started = await json(`${b.url}/api/containers/${prefix}-on-b/start`, { method: 'POST' });
    expect(started.body.state).toBe('running');
    expect((await json(`${a.url}/api/containers/${prefix}-nobody`)).status).toBe(404);
    // One audit trail for the fleet: each mutation recorded once, by the platform that made it (a create
    // refused at placement, host-z, is answered before any platform's container routes see it).
    const audit = await json(`${a.url}/api/audit?action=container.stop`);
    expect(audit.body.entries).toEqual([
      expect.objectContaining({ target: `${prefix}-on-b`, outcome: 'ok' }),
    ]);
    const created = await json(`${b.url}/api/audit?action=container.create`);
    const targets = (created.body.entries as { target: string }[]).map((e) => e.target).sort();
    expect(targets).toEqual([`${prefix}-on-a`, `${prefix}-on-b`, `${prefix}-placed`]);
  }, 60_000);

  test("a host's engine stopped: its containers turn lost everywhere and the fleet gauge says so; back, they return", async () => {
    await engineB.stop();
    const lost = await eventually(async () => {
      const { body } = await json(`${a.url}/api/containers`);
      const onB = (body.containers as View[]).find((v) => v.handle === `${prefix}-on-b`);
      return onB?.state === 'lost' ? body : undefined;
    }, 20_000);
    expect((lost.containers as View[]).find((v) => v.handle === `${prefix}-on-a`)?.state).toBe('running');
    const hosts = await json(`${a.url}/api/hosts`);
    expect(hosts.body.hosts).toContainEqual(
      expect.objectContaining({ host: 'host-b', state: 'engine_down' }),
    );
    const refused = await json(`${a.url}/api/containers/${prefix}-on-b`);
    expect(refused.status).toBe(503);
    expect(refused.body.error.message).toContain('host-b');
    expect(JSON.stringify(refused.body)).not.toContain('127.0.0.1');
    await eventually(
      async () =>
        /platform_fleet_hosts\{state="engine_down"\} 1/.test(await (await fetch(`${a.url}/metrics`)).text()),
      10_000,
    );
    await engineB.start();
    // The engine stopped its containers as it went: they show as their platform sees them again (stopped,
    // then restarted with backoff), no longer lost.
    await eventually(async () => {
      const hosts = await json(`${a.url}/api/hosts`);
      const { body } = await json(`${a.url}/api/containers`);
      const back = (body.containers as View[]).find((v) => v.handle === `${prefix}-on-b`)?.state;
      return (
        hosts.body.hosts.find((h: { host: string }) => h.host === 'host-b')?.state === 'up' && back !== 'lost'
      );
    }, 30_000);
  }, 90_000);

  test('a platform killed: its host is lost once its heartbeat is 15 s old', async () => {
    await b.kill();
    await eventually(async () => {
      const { body } = await json(`${a.url}/api/hosts`);
      return body.hosts.find((h: { host: string }) => h.host === 'host-b')?.state === 'lost';
    }, 30_000);
    const { body } = await json(`${a.url}/api/containers`);
    expect((body.containers as View[]).find((v) => v.handle === `${prefix}-placed`)?.state).toBe('lost');
    // Host A's console shows the whole fleet: host B lost, and its containers with it, in trouble.
    const consoleView = await eventually(async () => {
      const { body: view } = await json(`${a.url}/admin/api/fleet`);
      return (
        view.hosts?.some((h: { host: string; state: string }) => h.host === 'host-b' && h.state === 'lost') &&
        view
      );
    }, 10_000);
    expect(consoleView.containers).toContainEqual(
      expect.objectContaining({
        handle: `${prefix}-placed`,
        host: 'host-b',
        state: 'lost',
        trouble: true,
        health: 'its host is lost',
      }),
    );
    expect(consoleView.totals.trouble).toBeGreaterThanOrEqual(1);
    // Back on its address: the gateway and the fleet know it there.
    b = await startService(
      'platform',
      platformEnv('host-b', {
        DOCKER_HOST: engineB.host,
        BEACON_PORT: new URL(b.url).port,
        BEACON_KERNEL_PROXY_URL: `http://${engineB.address}:${proxyPort()}`,
      }),
    );
    await eventually(async () => {
      const hosts = await json(`${a.url}/api/hosts`);
      return hosts.body.hosts.find((h: { host: string }) => h.host === 'host-b')?.state === 'up';
    }, 20_000);
  }, 90_000);

  test('a kernel on each host answers a message from either gateway', async () => {
    const kernels = { [`${prefix}-ka`]: 'host-a', [`${prefix}-kb`]: 'host-b' };
    for (const [handle, host] of Object.entries(kernels)) {
      // Asked of the other host's platform: placed where asked, created by the host's own.
      const res = await post(
        `${(host === 'host-a' ? b : a).url}/api/containers`,
        { handle, owner: handle, host, image: KERNEL_IMAGE, memoryMb: 256 },
        admin,
      );
      expect(res.status).toBe(201);
    }
    for (const gateway of gateways)
      for (const handle of Object.keys(kernels)) {
        const res = await post(`${gateway.url}/api/message`, { handle, text: 'hello across hosts' });
        const body = await res.json();
        expect(res.status).toBe(200);
        expect(body).toMatchObject({ status: 'ok', result: { text: expect.any(String) } });
      }
  }, 120_000);

  test("the fleet's database stopped: each platform still serves its own host and says what it cannot reach", async () => {
    pg.stopServer('immediate');
    try {
      const { status, body } = await json(`${a.url}/api/containers`);
      expect(status).toBe(200);
      expect(body.warning).toContain("fleet's database is unavailable");
      expect((body.containers as View[]).every((v) => v.host === 'host-a')).toBe(true);
      expect((await json(`${a.url}/api/containers/${prefix}-on-a`)).status).toBe(200);
      const elsewhere = await json(`${a.url}/api/containers/${prefix}-on-b`);
      expect(elsewhere.status).toBe(503);
      expect(elsewhere.body.error.message).toContain("fleet's database");
      // Degraded, not down: the host's own containers are its job.
      expect((await fetch(`${a.url}/health/ready`)).status).toBe(200);
      const health = await json(`${a.url}/health`);
      expect(health.body).toMatchObject({
        status: 'degraded',
        checks: { fleet_database: { status: 'error' } },
      });
    } finally {
      pg.startServer();
    }
    await eventually(async () => (await json(`${a.url}/health`)).body.status === 'healthy', 20_000);
    expect((await json(`${a.url}/api/containers/${prefix}-on-b`)).status).toBe(200);
  }, 60_000);
});
