import { afterAll, describe, expect, test } from 'bun:test';
import { AppError } from '@beacon/core';
import { createApp } from '../../packages/platform/src/app';
import { createPools } from '../../packages/platform/src/pools/pools';
import { createPlatformParts, docker, onTestEngine, removeContainers } from '../support/docker';
import { jsonPost } from '../support/http';
import { eventually } from '../support/wait';

const { available, prefix } = await onTestEngine('pool');

describe.skipIf(!available)('container pools on a real Docker engine', () => {
  test('warm minimum, acquire with affinity, exhaustion, release wipes, eviction, metrics, restart', async () => {
    const pool = prefix;
    const parts = createPlatformParts();
    const config = [{ name: pool, min: 1, max: 2 }];
    const pools = createPools({ ...parts, pools: config, sweepMs: 60_000 });
    const app = createApp({ identity: { name: 'platform', version: 'test' }, ...parts, pools });
    const state = () => pools.list()[0];
    const acquire = (tenant: string) => app.request(`/api/pools/${pool}/acquire`, jsonPost({ tenant }));
    const release = (tenant: string) => app.request(`/api/pools/${pool}/release`, jsonPost({ tenant }));
    const containerId = async (handle: string) =>
      (await docker.getContainer(`beacon-${handle}`).inspect()).Id;

    await pools.start();
    await eventually(() => state()?.available === 1, 20_000);
    const warm = state()?.members[0]?.handle ?? '';
    const labels = (await docker.getContainer(`beacon-${warm}`).inspect()).Config.Labels;
    expect(labels).toMatchObject({ 'beacon.pool': pool, 'beacon.owner': `pool-${pool}` });

    // The warm container goes to the first tenant; asking again answers the same one.
    expect(await (await acquire('alice')).json()).toEqual({
      pool,
      handle: warm,
      tenant: 'alice',
      affinity: 'miss',
    });
    expect((await (await acquire('alice')).json()).affinity).toBe('held');
    // The pool tops itself up to one warm container, within its maximum of two.
    await eventually(() => state()?.available === 1 && state()?.size === 2, 20_000);
    const bob = await (await acquire('bob')).json();
    expect(bob.handle).not.toBe(warm);

    const exhausted = await acquire('carol');
    expect(exhausted.status).toBe(503);
    expect(exhausted.headers.get('retry-after')).toBe('5');
    expect((await exhausted.json()).error.message).toContain(`pool ${pool} is exhausted`);

    // Release wipes (a new container under the same handle) and keeps it warm for alice.
    const before = await containerId(warm);
    expect((await release('alice')).status).toBe(200);
    expect(await containerId(warm)).not.toBe(before);
    expect(state()).toMatchObject({ available: 1, borrowed: 1 });
    expect(await parts.registry.metrics()).toContain(`platform_pool_affinity_reservations{pool="${pool}"} 1`);
    expect(await (await acquire('alice')).json()).toMatchObject({ handle: warm, affinity: 'hit' });

    // Short of containers, carol gets the one kept for alice.
    await release('alice');
    expect(await (await acquire('carol')).json()).toMatchObject({ handle: warm, affinity: 'miss' });

    expect((await release('nobody')).status).toBe(404);
    expect((await app.request('/api/pools/no-such-pool/acquire', jsonPost({ tenant: 'x' }))).status).toBe(
      404,
    );
    const bad = await app.request(`/api/pools/${pool}/acquire`, jsonPost({ tenant: '' }));
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toContain('tenant');

    const text = await parts.registry.metrics();
    const value = (series: string) =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(series))
          ?.split(' ')[1],
      );
    expect(value(`platform_pool_affinity_hits_total{pool="${pool}"}`)).toBe(1);
    expect(value(`platform_pool_affinity_misses_total{pool="${pool}"}`)).toBe(3);
    expect(value(`platform_pool_affinity_evictions_total{pool="${pool}"}`)).toBe(1);
    expect(value(`platform_pool_acquire_duration_seconds_count{pool="${pool}",status="exhausted"}`)).toBe(1);
    expect(value(`platform_pool_borrowed{pool="${pool}"}`)).toBe(2);
    expect(value(`platform_pool_max_size{pool="${pool}"}`)).toBe(2);
    // Seed 004's lifecycle metrics: two containers created, two releases wiped, one release refused.
    expect(value(`platform_pool_create_duration_seconds_count{pool="${pool}",status="ok"}`)).toBe(2);
    expect(value(`platform_pool_wipe_duration_seconds_count{pool="${pool}",status="ok"}`)).toBe(2);
    expect(value(`platform_pool_release_duration_seconds_count{pool="${pool}",status="ok"}`)).toBe(2);
    expect(value(`platform_pool_release_duration_seconds_count{pool="${pool}",status="error"}`)).toBe(1);
    expect(value(`platform_pool_target_size{pool="${pool}"}`)).toBe(2);
    expect(value(`platform_pool_affinity_reservations{pool="${pool}"}`)).toBe(0);
    expect(value(`platform_container_operations_total{operation="recycle",status="ok",pool="${pool}"}`)).toBe(
      2,
    );
    pools.stop();

    // A restart keeps who holds what.
    const restarted = createPools({ ...parts, pools: config, sweepMs: 60_000 });
    await restarted.start();
    const held = restarted.list()[0]?.members.filter((m) => m.status === 'borrowed');
    expect(held?.map((m) => [m.tenant, m.handle]).sort()).toEqual(
      [
        ['bob', bob.handle],
        ['carol', warm],
      ].sort(),
    );
    restarted.stop();
  });

  test('concurrent acquisitions never share a container and stop at the maximum', async () => {
    const pool = `${prefix}-c`;
    const parts = createPlatformParts();
    const pools = createPools({ ...parts, pools: [{ name: pool, min: 0, max: 3 }], sweepMs: 60_000 });
    await pools.start();
    const results = await Promise.allSettled(
      ['t1', 't2', 't3', 't4', 't5'].map((tenant) => pools.acquire(pool, tenant)),
    );
    const handles = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.handle] : []));
    expect(handles).toHaveLength(3);
    expect(new Set(handles).size).toBe(3);
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    expect(refused).toEqual([expect.stringContaining('exhausted'), expect.stringContaining('exhausted')]);
    pools.stop();
  });

  test("the tenant's key is handed over on acquire and taken back on release; a failed hand-over returns the container", async () => {
    const pool = `${prefix}-k`;
    const parts = createPlatformParts();
    const calls: string[] = [];
    const tenantKeys = {
      give: async (handle: string, tenant: string) => {
        calls.push(`give ${tenant} ${handle}`);
        // What the real proxy client throws: a 503, which must not count as the pool being exhausted.
        if (tenant === 'broken') throw new AppError('unavailable', 'proxy unreachable');
      },
      take: async (handle: string, tenant: string) => void calls.push(`take ${tenant} ${handle}`),
    };
    const pools = createPools({
      ...parts,
      tenantKeys,
      pools: [{ name: pool, min: 1, max: 2 }],
      sweepMs: 60_000,
    });
    await pools.start();
    const { handle } = await pools.acquire(pool, 'ann');
    await pools.acquire(pool, 'ann');
    expect(calls).toEqual([`give ann ${handle}`]);
    await expect(pools.acquire(pool, 'broken')).rejects.toThrow('proxy unreachable');
    const counts = (await parts.registry.metrics())
      .split('\n')
      .filter((l) => l.startsWith(`platform_pool_acquire_duration_seconds_count{pool="${pool}"`));
    expect(counts.sort()).toEqual([
      `platform_pool_acquire_duration_seconds_count{pool="${pool}",status="error"} 1`,
      `platform_pool_acquire_duration_seconds_count{pool="${pool}",status="ok"} 2`,
    ]);
    await eventually(
      () => pools.list()[0]?.members.some((m) => m.status === 'available' && !m.tenant),
      20_000,
    );
    await pools.release(pool, 'ann');
    expect(calls.at(-1)).toBe(`take ann ${handle}`);
    pools.stop();
  });
});

describe.skipIf(!available)('a pool under one-at-a-time use', () => {
  afterAll(() => removeContainers(`${prefix}-s`));

  test('min 2, max 4: acquire/release in turn stays within one borrowed plus min idle, and idle ones above min go', async () => {
    const pool = `${prefix}-s`;
    const parts = createPlatformParts();
    const pools = createPools({
      ...parts,
      pools: [{ name: pool, min: 2, max: 4, idleSeconds: 1 }],
      sweepMs: 60_000,
    });
    const state = () => pools.list()[0];
    await pools.start();
    await eventually(() => state()?.available === 2, 20_000);
    for (const tenant of ['ann', 'bob', 'ann', 'cy', 'dee', 'ann']) {
      await pools.acquire(pool, tenant);
      await pools.release(pool, tenant);
      expect(state()?.size ?? 0).toBeLessThanOrEqual(3);
    }
    await Bun.sleep(1100);
    await pools.sweep();
    expect(state()).toMatchObject({ size: 2, available: 2 });
    pools.stop();
  });
});
