import { describe, expect, test } from 'bun:test';
import { containerAnswer } from '@beacon/core';
import Docker from 'dockerode';
import { createApp } from '../../packages/platform/src/app';
import { createDockerClient } from '../../packages/platform/src/clients/docker';
import { createPlatformParts, docker, onTestEngine, TEST_IMAGE } from '../support/docker';
import { jsonPost } from '../support/http';

const { available, prefix } = await onTestEngine('api');
const identity = { name: 'platform', version: 'test' };

function buildApp(parts = createPlatformParts()) {
  const app = createApp({ identity, ...parts, stats: { latest: () => undefined } });
  return { app, parts };
}

describe.skipIf(!available)('container API on a real Docker engine', () => {
  test('create → 201, labelled, limited and running; get; list; logs; stop/start/restart; delete', async () => {
    const { app, parts } = buildApp();
    const handle = `${prefix}-one`;
    const res = await app.request(
      '/api/containers',
      jsonPost({ handle, owner: 'alice', memoryMb: 48, cpus: 0.5, env: { GREETING: 'hello-from-env' } }),
    );
    expect(res.status).toBe(201);
    const created = await res.json();
    expect(created).toMatchObject({
      handle,
      owner: 'alice',
      state: 'running',
      spec: { memoryMb: 48, cpus: 0.5 },
    });
    expect(created.spec.envKeys).toEqual(['GREETING']);
    expect(JSON.stringify(created)).not.toContain('hello-from-env');

    const info = await docker.getContainer(`beacon-${handle}`).inspect();
    expect(info.Config.Labels).toMatchObject({
      'beacon.managed': 'true',
      'beacon.handle': handle,
      'beacon.owner': 'alice',
    });
    expect(info.HostConfig.Memory).toBe(48 * 1024 * 1024);
    expect(info.HostConfig.NanoCpus).toBe(5e8);
    expect(info.State.Running).toBe(true);

    const one = await (await app.request(`/api/containers/${handle}`)).json();
    // The contract the gateway reads it by.
    expect(containerAnswer.safeParse(one).success).toBe(true);
    expect(one.docker.state).toBe('running');
    expect(one.docker.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    // The kernel port answers on the container's own address, not a published port.
    expect(await (await fetch(`http://${one.docker.ip}:7681/health`)).text()).toBe('ok\n');

    const list = await (await app.request('/api/containers')).json();
    expect(list.containers.map((c: { handle: string }) => c.handle)).toContain(handle);

    const logs = await app.request(`/api/containers/${handle}/logs?tail=10`);
    expect(logs.status).toBe(200);
    expect(Array.isArray((await logs.json()).lines)).toBe(true);

    const stopped = await app.request(`/api/containers/${handle}/stop`, { method: 'POST' });
    expect((await stopped.json()).state).toBe('stopped');
    expect((await docker.getContainer(`beacon-${handle}`).inspect()).State.Running).toBe(false);
    expect(
      (await (await app.request(`/api/containers/${handle}/start`, { method: 'POST' })).json()).state,
    ).toBe('running');
    expect((await app.request(`/api/containers/${handle}/restart`, { method: 'POST' })).status).toBe(200);

    expect((await app.request(`/api/containers/${handle}`, { method: 'DELETE' })).status).toBe(204);
    expect((await app.request(`/api/containers/${handle}`)).status).toBe(404);
    await expect(docker.getContainer(`beacon-${handle}`).inspect()).rejects.toThrow();

    const text = await parts.registry.metrics();
    expect(text).toContain('platform_provision_duration_seconds_count{status="ok"} 1');
    for (const op of ['create', 'start', 'stop', 'restart', 'destroy']) {
      expect(text).toContain(
        `platform_container_operations_total{operation="${op}",status="ok",pool="none"} 1`,
      );
    }
  });

  test('bad input → 400 naming the field; existing handle → 409; unknown → 404', async () => {
    const { app } = buildApp();
    const bad = async (body: unknown, field: string) => {
      const res = await app.request('/api/containers', jsonPost(body));
      expect(res.status).toBe(400);
      expect((await res.json()).error.message).toContain(field);
    };
    await bad({ handle: 'Bad_Handle' }, 'body.handle');
    await bad({ handle: 'platform' }, 'body.handle');
    await bad({ handle: `${prefix}-x`, memoryMb: 1 }, 'body.memoryMb');
    await bad({ handle: `${prefix}-x`, cpus: -1 }, 'body.cpus');
    await bad({ handle: `${prefix}-x`, env: { 'NOT VALID': 'x' } }, 'body.env');
    const badJson = await app.request('/api/containers', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{nope',
    });
    expect(badJson.status).toBe(400);
    expect((await badJson.json()).error.message).toContain('invalid JSON');
    // Not JSON at all (a form, text/plain): refused before it is read, so a browser must preflight.
    const notJson = await app.request('/api/containers', { method: 'POST', body: '{nope' });
    expect(notJson.status).toBe(415);
    expect((await notJson.json()).error.message).toContain('application/json');
    expect((await app.request('/api/containers/Bad_Handle')).status).toBe(400);

    const handle = `${prefix}-dup`;
    expect((await app.request('/api/containers', jsonPost({ handle }))).status).toBe(201);
    const again = await app.request('/api/containers', jsonPost({ handle }));
    expect(again.status).toBe(409);
    expect((await again.json()).error.code).toBe('conflict');
    expect((await app.request(`/api/containers/${prefix}-nobody`)).status).toBe(404);
    expect((await app.request(`/api/containers/${prefix}-nobody/stop`, { method: 'POST' })).status).toBe(404);
  });

  test('a bad image fails provisioning without leaving a record or a container', async () => {
    const { app, parts } = buildApp();
    const handle = `${prefix}-noimage`;
    const res = await app.request(
      '/api/containers',
      jsonPost({ handle, image: 'beacon-no-such-image:never' }),
    );
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect((await app.request(`/api/containers/${handle}`)).status).toBe(404);
    expect(await parts.registry.metrics()).toContain(
      'platform_provision_duration_seconds_count{status="error"} 1',
    );
  });

  test('reconcile: a container removed behind our back is gone; an unknown managed one is adopted', async () => {
    const { app, parts } = buildApp();
    const handle = `${prefix}-behind`;
    expect((await app.request('/api/containers', jsonPost({ handle }))).status).toBe(201);
    await docker.getContainer(`beacon-${handle}`).remove({ force: true });

    const stranger = `${prefix}-stranger`;
    const c = await docker.createContainer({
      name: `beacon-${stranger}`,
      Image: TEST_IMAGE,
      Labels: { 'beacon.managed': 'true', 'beacon.handle': stranger, 'beacon.owner': 'bob' },
    });
    await c.start();
    const unmanaged = await docker.createContainer({
      name: `${prefix}-unmanaged`,
      Image: TEST_IMAGE,
    });

    await parts.reconcile();
    expect(parts.containers.find(handle)?.state).toBe('gone');
    expect(parts.containers.find(stranger)).toMatchObject({ owner: 'bob', state: 'running' });
    expect(parts.containers.find(`${prefix}-unmanaged`)).toBeUndefined();
    const list = await (await app.request('/api/containers')).json();
    expect(list.containers.map((x: { handle: string }) => x.handle)).not.toContain(`${prefix}-unmanaged`);
    await unmanaged.remove({ force: true });
  });

  test('Docker unreachable → 503 with a clear message, /ready 503, /health down, no crash', async () => {
    const parts = createPlatformParts(
      createDockerClient(new Docker({ socketPath: '/tmp/beacon-no-docker.sock' })),
    );
    const { app } = buildApp(parts);
    const res = await app.request('/api/containers', jsonPost({ handle: `${prefix}-down` }));
    expect(res.status).toBe(503);
    expect((await res.json()).error.message).toContain('Docker engine unreachable');
    expect((await app.request(`/api/containers/${prefix}-down`)).status).toBe(404);
    const ready = await app.request('/ready');
    expect(ready.status).toBe(503);
    expect((await ready.json()).checks.docker.status).toBe('error');
    const health = await app.request('/health');
    expect(health.status).toBe(503);
    expect((await health.json()).status).toBe('down');
    await expect(parts.reconcile()).rejects.toThrow('Docker engine unreachable');
  });
});
