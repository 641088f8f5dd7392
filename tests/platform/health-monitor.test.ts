import { describe, expect, test } from 'bun:test';
import Docker from 'dockerode';
import { createApp } from '../../packages/platform/src/app';
import { createDockerClient } from '../../packages/platform/src/clients/docker';
import { HealthMonitor } from '../../packages/platform/src/observe/health-monitor';
import { createPlatformParts, docker, execIn, onTestEngine } from '../support/docker';

const { available, prefix } = await onTestEngine('health');

function setup(client = createDockerClient(docker)) {
  const parts = createPlatformParts(client);
  const monitor = new HealthMonitor({
    containers: parts.containers,
    docker: parts.docker,
    metrics: parts.metrics,
    log: parts.log,
    intervalMs: 60_000,
    timeoutMs: 500,
    retries: 3,
  });
  return { ...parts, monitor };
}

const id = (parts: ReturnType<typeof setup>, handle: string) => parts.containers.find(handle)?.containerId;

describe.skipIf(!available)('health monitor on a real Docker engine', () => {
  test('a container whose /health fails is recycled after exactly 3 failed checks, same handle, new id', async () => {
    const p = setup();
    const handle = `${prefix}-sick`;
    await p.containers.create({ handle });
    expect((await p.monitor.checkOnce()).get(handle)).toBe('healthy');
    const before = id(p, handle);
    await execIn(handle, 'rm', '/www/health');
    expect((await p.monitor.checkOnce()).get(handle)).toBe('unhealthy');
    expect((await p.monitor.checkOnce()).get(handle)).toBe('unhealthy');
    expect(id(p, handle)).toBe(before);
    expect((await p.monitor.checkOnce()).get(handle)).toBe('recycled');
    const after = id(p, handle);
    expect(after).not.toBe(before);
    expect(p.containers.find(handle)?.state).toBe('running');
    expect((await docker.getContainer(`beacon-${handle}`).inspect()).Id).toBe(after ?? '');
    expect((await p.monitor.checkOnce()).get(handle)).toBe('healthy');
    const text = await p.registry.metrics();
    expect(text).toContain('platform_container_recycles_total{reason="unhealthy"} 1');
    expect(text).toContain('platform_container_health_check_failures_total{pool="none"} 3');
    expect(text).toContain(`platform_container_healthy{handle="${handle}"} 1`);
  });

  test('one that recovers after 2 failures is not recycled, and its count starts again', async () => {
    const p = setup();
    const handle = `${prefix}-flaky`;
    await p.containers.create({ handle });
    const before = id(p, handle);
    await execIn(handle, 'rm', '/www/health');
    await p.monitor.checkOnce();
    await p.monitor.checkOnce();
    expect(p.monitor.failures(handle)).toBe(2);
    await execIn(handle, 'sh', '-c', 'echo ok > /www/health');
    expect((await p.monitor.checkOnce()).get(handle)).toBe('healthy');
    expect(p.monitor.failures(handle)).toBe(0);
    await execIn(handle, 'rm', '/www/health');
    await p.monitor.checkOnce();
    await p.monitor.checkOnce();
    expect(id(p, handle)).toBe(before);
    expect(await p.registry.metrics()).not.toContain('platform_container_recycles_total{');
  });

  test('a check that hangs is cut at the timeout and counts as a failure; others are unaffected', async () => {
    const p = setup();
    const hung = `${prefix}-hung`;
    const fine = `${prefix}-fine`;
    // nc accepts the connection and never answers.
    await p.containers.create(
      { handle: hung, command: ['nc', '-l', '-p', '7682'], health: { port: 7682, path: '/' } },
      { wait: false },
    );
    await p.containers.create({ handle: fine });
    const result = await p.monitor.checkOnce();
    expect(result.get(hung)).toBe('unhealthy');
    expect(result.get(fine)).toBe('healthy');
    expect(p.monitor.failures(hung)).toBe(1);
    expect(await p.registry.metrics()).toContain(`platform_container_healthy{handle="${hung}"} 0`);
  });

  test('TTL expiry recycles with reason ttl', async () => {
    const p = setup();
    const handle = `${prefix}-ttl`;
    await p.containers.create({ handle, ttlSeconds: 1 });
    const before = id(p, handle);
    await Bun.sleep(1100);
    expect((await p.monitor.checkOnce()).get(handle)).toBe('recycled');
    expect(id(p, handle)).not.toBe(before);
    expect(p.containers.find(handle)?.expiresAt?.getTime()).toBeGreaterThan(Date.now());
    expect(await p.registry.metrics()).toContain('platform_container_recycles_total{reason="ttl"} 1');
  });

  test('the monitor survives a container that vanishes', async () => {
    const p = setup();
    const handle = `${prefix}-vanish`;
    await p.containers.create({ handle, health: 'none' });
    await docker.getContainer(`beacon-${handle}`).remove({ force: true });
    expect((await p.monitor.checkOnce()).get(handle)).toBe('unhealthy');
  });

  test('Docker going away: the monitor waits, counts nothing, and resumes when it is back', async () => {
    let down = true;
    const real = createDockerClient(docker);
    const flaky = createDockerClient(new Docker({ socketPath: '/tmp/beacon-no-docker.sock' }));
    const p = setup({ ...real, ping: () => (down ? flaky.ping() : real.ping()) });
    const handle = `${prefix}-waits`;
    await p.containers.create({ handle });
    expect((await p.monitor.checkOnce()).size).toBe(0);
    expect(p.monitor.failures(handle)).toBe(0);
    down = false;
    expect((await p.monitor.checkOnce()).get(handle)).toBe('healthy');
  });

  test('POST /api/containers/:handle/recycle recycles by hand', async () => {
    const p = setup();
    const app = createApp({ identity: { name: 'platform', version: 't' }, ...p });
    const handle = `${prefix}-manual`;
    await p.containers.create({ handle });
    const before = id(p, handle);
    const res = await app.request(`/api/containers/${handle}/recycle`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect((await res.json()).containerId).not.toBe(before);
    expect(await p.registry.metrics()).toContain('platform_container_recycles_total{reason="manual"} 1');
    const dash = await (await app.request('/admin/dashboard')).json();
    expect(dash).toMatchObject({ recycledLastHour: { manual: 1 }, grafanaUrl: 'http://localhost:3200' });
    expect(dash.containers.byState.running).toBeGreaterThanOrEqual(1);
  });
});
