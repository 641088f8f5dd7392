import { afterAll, describe, expect, test } from 'bun:test';
import { rmSync } from 'node:fs';
import { AppError, createLogger, KERNEL_TOKEN_FILE } from '@beacon/core';
import { createApp } from '../../packages/platform/src/app';
import { createSecrets } from '../../packages/platform/src/clients/secrets';
import { TENANT_NETWORK } from '../../packages/platform/src/lifecycle/provision';
import { createPlatformParts, docker, execIn, onTestEngine } from '../support/docker';
import { buildProxy, openaiCall, type TestProxy } from '../support/proxy';

const { available, prefix } = await onTestEngine('hard');
const quiet = createLogger({ service: 'platform', level: 'silent' });
const runtimeDir = `/dev/shm/beacon-hard-${process.pid}`;

/** The platform's key calls, answered by an in-process proxy's admin API (the same routes the real client calls). */
const proxyKeys = (proxy: TestProxy) => ({
  mint: (user: string, handle: string) => proxy.keyFor(user, handle),
  revokeHandle: async (handle: string) => {
    const { keys } = await (await proxy.app.request(`/api/keys?handle=${handle}`)).json();
    for (const k of keys)
      if (!k.revokedAt) await proxy.app.request(`/api/keys/${k.id}`, { method: 'DELETE' });
  },
  bind: async (handle: string, user: string) => {
    const res = await proxy.app.request(`/api/keys/handle/${handle}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user }),
    });
    if (res.status !== 200) throw new Error(`bind ${handle}: ${res.status}`);
  },
});
afterAll(() => rmSync(runtimeDir, { recursive: true, force: true }));

describe.skipIf(!available)('containers hardened by default', () => {
  test('no capability, no new privileges, a PIDs limit: a fork bomb stops there and its neighbour is unaffected', async () => {
    const { containers } = createPlatformParts();
    const bomb = `${prefix}-bomb`;
    const neighbour = `${prefix}-calm`;
    await containers.create({ handle: bomb, health: 'none', pidsLimit: 64 }, { wait: false });
    await containers.create({ handle: neighbour, health: 'none' }, { wait: false });
    const info = await docker.getContainer(`beacon-${bomb}`).inspect();
    expect(info.HostConfig.CapDrop).toEqual(['ALL']);
    expect(info.HostConfig.SecurityOpt).toContain('no-new-privileges:true');
    expect(info.HostConfig.PidsLimit).toBe(64);
    expect((await docker.getContainer(`beacon-${neighbour}`).inspect()).HostConfig.PidsLimit).toBe(512);
    // 200 sleepers asked for: the limit refuses the rest (the shell itself then cannot fork: it fails).
    const bombed = await execIn(bomb, 'sh', '-c', 'for i in $(seq 200); do (sleep 30 &); done').catch((e) =>
      String(e),
    );
    expect(bombed).toContain("can't fork");
    const top = await docker.getContainer(`beacon-${bomb}`).top();
    expect(top.Processes.length).toBeLessThanOrEqual(64);
    expect(top.Processes.length).toBeGreaterThan(32);
    expect((await execIn(neighbour, 'sh', '-c', 'echo alive')).trim()).toBe('alive');
    // Root in the container cannot do what a capability would allow (CAP_CHOWN dropped).
    await expect(execIn(neighbour, 'chown', '1234', '/tmp')).rejects.toThrow();
  });

  test("a kernel token per container: in the container's detail only (the gateway's read), delivered as a file", async () => {
    const secrets = createSecrets({
      runtimeDir: `/dev/shm/beacon-hard-${process.pid}`,
      mode: 'hardened',
      log: quiet,
    });
    const parts = createPlatformParts(undefined, { secrets });
    const app = createApp({ identity: { name: 'platform', version: 't' }, ...parts });
    const handle = `${prefix}-tok`;
    await parts.containers.create({ handle, health: 'none' }, { wait: false });
    const detail = await (await app.request(`/api/containers/${handle}`)).json();
    expect(detail.kernelToken).toMatch(/^[\w-]{32}$/);
    const listed = await (await app.request('/api/containers')).text();
    expect(listed).not.toContain(detail.kernelToken);
    expect(JSON.stringify(detail.spec)).not.toContain(detail.kernelToken);
    expect((await execIn(handle, 'cat', KERNEL_TOKEN_FILE)).trim()).toBe(detail.kernelToken);
    const other = `${prefix}-tok2`;
    await parts.containers.create({ handle: other, health: 'none' }, { wait: false });
    expect((await (await app.request(`/api/containers/${other}`)).json()).kernelToken).not.toBe(
      detail.kernelToken,
    );
  });

  test("tenants cannot reach each other: another container's kernel port is closed; the host (proxy, NATS) is open", async () => {
    const { containers } = createPlatformParts();
    const a = `${prefix}-neta`;
    const b = `${prefix}-netb`;
    await containers.create({ handle: a, health: 'none' }, { wait: false });
    await containers.create({ handle: b, health: 'none' }, { wait: false });
    const info = await docker.getContainer(`beacon-${b}`).inspect();
    const bIp = info.NetworkSettings.Networks[TENANT_NETWORK]?.IPAddress ?? '';
    expect(bIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const network = await docker.getNetwork(TENANT_NETWORK).inspect();
    expect(network.Options?.['com.docker.network.bridge.enable_icc']).toBe('false');
    const hostIp: string = network.IPAM?.Config?.[0]?.Gateway ?? '';
    const host = Bun.serve({ hostname: '0.0.0.0', port: 0, fetch: () => new Response('ok') });
    try {
      const probe = (ip: string, port: number) =>
        execIn(a, 'sh', '-c', `nc -w 2 ${ip} ${port} </dev/null && echo open || echo closed`);
      // From the host, B answers: the check above is not a dead container.
      expect((await fetch(`http://${bIp}:7681/health`)).status).toBe(200);
      expect((await probe(bIp, 7681)).trim()).toBe('closed');
      expect((await probe(hostIp, host.port ?? 0)).trim()).toBe('open');
    } finally {
      host.stop(true);
    }
  });

  test('an agent that reads only the standard variables (OPENAI_BASE_URL, OPENAI_API_KEY) is charged to the owner and handle', async () => {
    const proxy = await buildProxy();
    const network = await docker
      .getNetwork(TENANT_NETWORK)
      .inspect()
      .catch(() => undefined);
    const gateway = network?.IPAM?.Config?.[0]?.Gateway;
    const served = Bun.serve({ hostname: '0.0.0.0', port: 0, fetch: proxy.app.fetch });
    try {
      const keys = proxyKeys(proxy);
      // The tenants' network exists once a container was made on it; its gateway is this machine.
      const hostIp = gateway ?? '172.17.0.1';
      const { containers } = createPlatformParts(undefined, {
        keys,
        secrets: createSecrets({ runtimeDir, mode: 'hardened', log: quiet }),
        env: { BEACON_PROXY_URL: `http://${hostIp}:${served.port}` },
      });
      const handle = `${prefix}-agent`;
      await containers.create({ handle, owner: 'olga', health: 'none' }, { wait: false });
      const env = await execIn(handle, 'env');
      expect(env).toContain(`OPENAI_BASE_URL=http://${hostIp}:${served.port}/v1`);
      expect(env).toContain(`ANTHROPIC_BASE_URL=http://${hostIp}:${served.port}`);
      // An agent with nothing but the variables: a raw HTTP call (busybox has nc, no HTTP client).
      const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
      const script = [
        `hostport=\${OPENAI_BASE_URL#http://}; hostport=\${hostport%%/*}`,
        // stdin held open a moment: busybox nc stops reading the answer once its input ends.
        `(printf 'POST /v1/chat/completions HTTP/1.0\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n%s' "$hostport" "$OPENAI_API_KEY" '${body}'; sleep 3) | nc -w 5 \${hostport%:*} \${hostport#*:}`,
      ].join('; ');
      expect(await execIn(handle, 'sh', '-c', script)).toContain('fake answer');
      const [row] = await proxy.rows();
      expect(row).toMatchObject({ user: 'olga', handle, status: 'ok' });
      // `aiEnv: false` leaves them out.
      const bare = `${prefix}-bare`;
      await containers.create({ handle: bare, health: 'none', aiEnv: false }, { wait: false });
      expect(await execIn(bare, 'env')).not.toContain('OPENAI_API_KEY');
    } finally {
      served.stop(true);
      await proxy.stop();
    }
  });

  test('a pooled container keeps one key for life: each tenant is billed for the calls made while it holds it', async () => {
    const proxy = await buildProxy();
    const served = Bun.serve({ hostname: '0.0.0.0', port: 0, fetch: proxy.app.fetch });
    const pool = `${prefix}-pk`;
    const { pools, containers } = createPlatformParts(undefined, {
      keys: proxyKeys(proxy),
      secrets: createSecrets({ runtimeDir, mode: 'hardened', log: quiet }),
      env: {
        BEACON_PROXY_URL: `http://127.0.0.1:${served.port}`,
        BEACON_POOLS: JSON.stringify([{ name: pool, min: 1, max: 1 }]),
      },
    });
    try {
      await pools.start();
      /** What an agent in the container does: a call with the key its env gave it at start. */
      const call = async (handle: string) => {
        const env = await execIn(handle, 'env');
        const key = env.match(/^OPENAI_API_KEY=(.*)$/m)?.[1] ?? '';
        const res = await proxy.post('/v1/chat/completions', openaiCall(), {
          authorization: `Bearer ${key}`,
        });
        return { status: res.status, key };
      };
      const a = await pools.acquire(pool, 'tenant-a');
      const first = await call(a.handle);
      expect(first.status).toBe(200);
      // Released: wiped and kept warm for tenant-a; another tenant takes it over and keeps its env's key.
      await pools.release(pool, 'tenant-a');
      const b = await pools.acquire(pool, 'tenant-b');
      expect(b.handle).toBe(a.handle);
      const second = await call(b.handle);
      expect(second.status).toBe(200);
      const rows = (await proxy.rows()).map((r) => [r.user, r.handle]);
      expect(rows).toEqual([
        ['tenant-a', a.handle],
        ['tenant-b', a.handle],
      ]);
      expect(containers.find(a.handle)?.state).toBe('running');
    } finally {
      pools.stop();
      served.stop(true);
      await proxy.stop();
    }
  }, 60_000);

  test('memory or CPUs above the operator maximum is a 400 before Docker sees it', async () => {
    const { containers } = createPlatformParts();
    for (const ask of [{ memoryMb: 1_048_576 }, { cpus: 200 }]) {
      const err = await containers
        .create({ handle: `${prefix}-big`, health: 'none', ...ask })
        .catch((e) => e);
      expect(err).toBeInstanceOf(AppError);
      expect(err.status).toBe(400);
      expect(err.message).toMatch(/maximum .*(BEACON_MAX_MEMORY_MB|BEACON_MAX_CPUS)/);
    }
    expect(containers.find(`${prefix}-big`)).toBeUndefined();
  });

  test("weakening is the operator's choice: more PIDs or a capability only as far as config allows", async () => {
    const strict = createPlatformParts().containers;
    const asks: [Record<string, unknown>, string][] = [
      [{ pidsLimit: 4096 }, 'BEACON_MAX_PIDS_LIMIT'],
      [{ capAdd: ['NET_RAW'] }, 'BEACON_ALLOWED_CAPABILITIES: none'],
    ];
    for (const [ask, named] of asks) {
      const err = await strict.create({ handle: `${prefix}-weak`, health: 'none', ...ask }).catch((e) => e);
      expect({ status: err.status, message: err.message }).toMatchObject({
        status: 400,
        message: expect.stringContaining(named),
      });
    }
    const lenient = createPlatformParts(undefined, {
      env: { BEACON_MAX_PIDS_LIMIT: '4096', BEACON_ALLOWED_CAPABILITIES: 'CHOWN' },
    }).containers;
    await lenient.create(
      { handle: `${prefix}-weak`, health: 'none', pidsLimit: 4096, capAdd: ['CHOWN'] },
      { wait: false },
    );
    const info = await docker.getContainer(`beacon-${prefix}-weak`).inspect();
    expect({ pids: info.HostConfig.PidsLimit, add: info.HostConfig.CapAdd }).toEqual({
      pids: 4096,
      add: ['CHOWN'],
    });
    expect((await execIn(`${prefix}-weak`, 'sh', '-c', 'chown 1234 /tmp && echo chowned')).trim()).toBe(
      'chowned',
    );
  });

  test('readOnlyRootfs: the image read-only, /tmp and the working directory writable', async () => {
    const { containers } = createPlatformParts();
    const handle = `${prefix}-ro`;
    await containers.create({ handle, health: 'none', readOnlyRootfs: true }, { wait: false });
    const info = await docker.getContainer(`beacon-${handle}`).inspect();
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    const probe =
      'for d in /bin /tmp /workspace; do touch $d/beacon-probe 2>/dev/null && echo "$d rw" || echo "$d ro"; done';
    expect(await execIn(handle, 'sh', '-c', probe)).toBe('/bin ro\n/tmp rw\n/workspace rw\n');
  });
});
