/**
 * Container lifecycle as a user feels it. Create-to-first-answer: POST /api/containers (which answers once
 * the kernel passes its health check) then the first POST /api/message (HTTP transport), against the
 * baseline of `docker run` of the same image plus polling the kernel's /health every 10 ms — what a
 * client would do without the platform. And a warm pool's acquire, the tenant's container kept warm.
 * Needs Docker and nats-server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker, removeContainers } from '../tests/support/docker';
import { post } from '../tests/support/http';
import { stackAuth, startStack } from '../tests/support/stack';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const ROUNDS = 7;
const prefix = 'bench-life';

async function dockerRunUntilHealthy(name: string): Promise<number> {
  const started = performance.now();
  const c = await docker.createContainer({
    name,
    Image: 'beacon-kernel:e2e',
    Env: ['BEACON_HANDLE=bench', 'BEACON_PROXY_URL=http://127.0.0.1:1', 'BEACON_PROXY_KEY=bk_unused'],
    Labels: { 'bench.lifecycle': 'true' },
  });
  await c.start();
  const ip = (await c.inspect()).NetworkSettings.Networks.bridge?.IPAddress;
  for (;;) {
    const ok = await fetch(`http://${ip}:7681/health`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) break;
    await Bun.sleep(10);
  }
  const ms = performance.now() - started;
  await c.remove({ force: true });
  return ms;
}

export async function benchLifecycle() {
  const work = mkdtempSync(join(tmpdir(), 'beacon-bench-life-'));
  const pool = `${prefix}-p`;
  const stack = await startStack(work, { pools: [{ name: pool, min: 1, max: 2 }] });
  try {
    const baseline: number[] = [];
    const api: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      baseline.push(await dockerRunUntilHealthy(`${prefix}-run-${i}`));
      const handle = `${prefix}-${i}`;
      const started = performance.now();
      const created = await post(
        `${stack.platform.url}/api/containers`,
        { handle, owner: 'bench' },
        stackAuth,
      );
      if (created.status !== 201) throw new Error(`create: ${created.status} ${await created.text()}`);
      const answer = await post(`${stack.httpGateway.url}/api/message`, { handle, text: 'hi' });
      if (answer.status !== 200) throw new Error(`first message: ${answer.status} ${await answer.text()}`);
      api.push(performance.now() - started);
      await fetch(`${stack.platform.url}/api/containers/${handle}`, { method: 'DELETE', headers: stackAuth });
    }
    console.log('\n== lifecycle: create → first answered message, and a warm pool acquire');
    const b = median(baseline);
    const a = median(api);
    console.log(
      `create-to-first-answer (median of ${ROUNDS}): platform API + first message ${a.toFixed(0)} ms | docker run + poll /health ${b.toFixed(0)} ms | ratio ${(a / b).toFixed(2)}`,
    );

    const acquire = (tenant: string) =>
      post(`${stack.platform.url}/api/pools/${pool}/acquire`, { tenant }, stackAuth);
    const release = (tenant: string) =>
      post(`${stack.platform.url}/api/pools/${pool}/release`, { tenant }, stackAuth);
    const warm: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const started = performance.now();
      const res = await acquire('bench-tenant');
      if (res.status !== 200) throw new Error(`acquire: ${res.status} ${await res.text()}`);
      warm.push(performance.now() - started);
      await release('bench-tenant');
    }
    const held: number[] = [];
    await acquire('bench-tenant');
    for (let i = 0; i < ROUNDS; i++) {
      const started = performance.now();
      await acquire('bench-tenant');
      held.push(performance.now() - started);
    }
    console.log(
      `pool warm acquire (median of ${ROUNDS}): ${median(warm).toFixed(1)} ms | already held ${median(held).toFixed(1)} ms | ratio ${(median(warm) / median(held)).toFixed(1)}`,
    );
  } finally {
    const leftovers = await docker.listContainers({
      all: true,
      filters: { label: ['bench.lifecycle=true'] },
    });
    await Promise.all(leftovers.map((c) => docker.getContainer(c.Id).remove({ force: true })));
    await removeContainers(prefix);
    await stack.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) await benchLifecycle();
