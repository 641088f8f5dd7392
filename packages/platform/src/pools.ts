import { randomBytes } from 'node:crypto';
import { AppError, type Logger } from '@beacon/core';
import { eq } from 'drizzle-orm';
import type { Histogram } from 'prom-client';
import type { ContainerService } from './containers';
import type { PlatformDb } from './db';
import { type PoolMemberRow, poolMembers } from './db/schema/pool-members';
import { DEFAULT_IDLE_SECONDS, decide, type PoolConfig, surplus } from './domain/pools';
import type { PlatformMetrics } from './metrics';

/** Hands a tenant its own proxy key inside the container it holds, so its AI calls are charged to it. */
export interface TenantKeys {
  give(handle: string, tenant: string): Promise<void>;
  take(handle: string, tenant: string): Promise<void>;
}

export interface PoolDeps {
  containers: Pick<ContainerService, 'create' | 'recycle' | 'destroy' | 'find'>;
  tenantKeys?: TenantKeys;
  db: PlatformDb;
  metrics: PlatformMetrics;
  log: Logger;
  pools: PoolConfig[];
  /** How often pools are topped up to their minimum and cleared of deleted containers. */
  sweepMs?: number;
}

export interface Acquired {
  pool: string;
  handle: string;
  tenant: string;
  /** held: the tenant already had it; hit: its previous container, kept warm; miss: another one. */
  affinity: 'held' | 'hit' | 'miss';
}

/** The one refusal an acquisition counts as `exhausted` (a failed hand-over is 503 too, but an error). */
class PoolExhausted extends AppError {}

type Choice =
  | { handle: string; affinity: Acquired['affinity']; ready?: Promise<unknown> }
  | { wait: Promise<unknown> };

/**
 * Named pools of warm containers. A tenant acquires one (its previous container when that is still idle:
 * affinity) and releases it, which wipes it (the container is recycled from the pool's spec) and keeps it
 * warm for the same tenant until another needs it. Membership lives in the database, so a restart keeps
 * every tenant's container.
 */
export function createPools({ containers, tenantKeys, db, metrics, log, pools, sweepMs = 10_000 }: PoolDeps) {
  const byName = new Map(pools.map((p) => [p.name, p]));
  const locks = new Map<string, Promise<unknown>>();
  /** Containers being created or wiped, by handle; these promises never reject. */
  const busy = new Map<string, Promise<unknown>>();
  let timer: Timer | undefined;

  const membersOf = (pool: string) => db.select().from(poolMembers).where(eq(poolMembers.pool, pool)).all();
  const update = (handle: string, values: Partial<PoolMemberRow>) =>
    db
      .update(poolMembers)
      .set({ ...values, updatedAt: new Date() })
      .where(eq(poolMembers.handle, handle))
      .run();
  const forget = (handle: string) => db.delete(poolMembers).where(eq(poolMembers.handle, handle)).run();

  const configOf = (name: string) => {
    const config = byName.get(name);
    if (!config) throw new AppError('not_found', `no pool ${name}`);
    return config;
  };

  function summary(config: PoolConfig) {
    const members = membersOf(config.name);
    const count = (status: string) => members.filter((m) => m.status === status).length;
    return {
      name: config.name,
      min: config.min,
      max: config.max,
      size: members.length,
      available: count('available'),
      borrowed: count('borrowed'),
      pending: count('pending'),
      members,
    };
  }

  function publish(config: PoolConfig) {
    const s = summary(config);
    const labels = { pool: config.name };
    metrics.pool.size.set(labels, s.size);
    metrics.pool.available.set(labels, s.available);
    metrics.pool.borrowed.set(labels, s.borrowed);
    metrics.pool.pending.set(labels, s.pending);
    metrics.pool.minSize.set(labels, s.min);
    metrics.pool.maxSize.set(labels, s.max);
    metrics.pool.targetSize.set(labels, Math.min(s.max, s.borrowed + s.min));
    const reserved = s.members.filter((m) => m.status === 'available' && m.lastTenant).length;
    metrics.pool.affinityReservations.set(labels, reserved);
  }

  /** Slow member work, timed into one of the pool's duration histograms by outcome. */
  function timed<T>(histogram: Histogram<'pool' | 'status'>, pool: string, work: Promise<T>): Promise<T> {
    const end = histogram.startTimer({ pool });
    return work.then(
      (result) => {
        end({ status: 'ok' });
        return result;
      },
      (err) => {
        end({ status: 'error' });
        throw err;
      },
    );
  }

  /** One membership decision per pool at a time; creating and wiping run outside the lock. */
  function locked<T>(pool: string, fn: () => T): Promise<T> {
    const run = (locks.get(pool) ?? Promise.resolve()).then(fn);
    locks.set(
      pool,
      run.catch(() => {}),
    );
    return run;
  }

  /** Track slow work on a member; the pool's gauges follow when it ends. */
  function track(config: PoolConfig, handle: string, work: Promise<unknown>) {
    const settled = work
      .catch(() => {})
      .finally(() => {
        busy.delete(handle);
        publish(config);
      });
    busy.set(handle, settled);
    return work;
  }

  /** A new container for the pool: `pending` until it runs, then available (or the tenant's). */
  function grow(config: PoolConfig, tenant?: string) {
    const handle = `${config.name}-${randomBytes(6).toString('hex')}`;
    db.insert(poolMembers)
      .values({
        handle,
        pool: config.name,
        status: 'pending',
        tenant: tenant ?? null,
        lastTenant: tenant ?? null,
        updatedAt: new Date(),
      })
      .run();
    const input = {
      handle,
      owner: `pool-${config.name}`,
      ttlSeconds: 0,
      ...(config.image ? { image: config.image } : {}),
      ...(config.memoryMb ? { memoryMb: config.memoryMb } : {}),
      ...(config.cpus ? { cpus: config.cpus } : {}),
      ...(config.health ? { health: config.health } : {}),
    };
    const created = timed(
      metrics.pool.createDuration,
      config.name,
      containers.create(input, { pool: config.name }),
    ).then(
      () => update(handle, { status: tenant ? 'borrowed' : 'available' }),
      (err) => {
        forget(handle);
        log.warn(
          { event: 'pool.create_failed', pool: config.name, handle, err: String(err) },
          'pool container not created',
        );
        throw err;
      },
    );
    return { handle, ready: track(config, handle, created) };
  }

  /** Keep `min` containers warm (available or on their way), within `max`. */
  function topUp(config: PoolConfig) {
    return locked(config.name, () => {
      const all = membersOf(config.name);
      const warm = all.filter((m) => m.status === 'available' || (m.status === 'pending' && !m.tenant));
      const missing = Math.min(config.min - warm.length, config.max - all.length);
      for (let i = 0; i < missing; i++) grow(config).ready.catch(() => {});
    });
  }

  /** Wipe a member (recycle its container); it is available again afterwards, or gone if that fails. */
  function wipe(config: PoolConfig, handle: string) {
    const wiped = timed(metrics.pool.wipeDuration, config.name, containers.recycle(handle, 'released')).then(
      () => update(handle, { status: 'available', tenant: null }),
      async (err) => {
        forget(handle);
        await timed(metrics.pool.destroyDuration, config.name, containers.destroy(handle)).catch(() => {});
        log.warn(
          { event: 'pool.wipe_failed', pool: config.name, handle, err: String(err) },
          'pool container could not be wiped; removed',
        );
        throw err;
      },
    );
    return track(config, handle, wiped);
  }

  function choose(config: PoolConfig, tenant: string): Choice {
    const pool = { pool: config.name };
    const decision = decide(membersOf(config.name), tenant, config.max);
    switch (decision.kind) {
      case 'held':
        return { handle: decision.handle, affinity: 'held' };
      case 'take':
        update(decision.handle, { status: 'borrowed', tenant, lastTenant: tenant });
        (decision.affinity === 'hit' ? metrics.pool.affinityHits : metrics.pool.affinityMisses).inc(pool);
        if (decision.evicts) metrics.pool.affinityEvictions.inc(pool);
        return { handle: decision.handle, affinity: decision.affinity };
      case 'grow': {
        metrics.pool.affinityMisses.inc(pool);
        const { handle, ready } = grow(config, tenant);
        return { handle, affinity: 'miss', ready };
      }
      case 'wait':
        // On their way (busy), or about to be resumed by the first sweep.
        return { wait: Promise.race(decision.handles.map((h) => busy.get(h) ?? Bun.sleep(100))) };
      case 'exhausted':
        throw new PoolExhausted(
          'unavailable',
          `pool ${config.name} is exhausted: all ${config.max} containers are held`,
          { 'retry-after': '5' },
        );
    }
  }

  async function take(config: PoolConfig, tenant: string): Promise<Acquired> {
    for (;;) {
      const pick = await locked(config.name, () => choose(config, tenant));
      if ('wait' in pick) {
        await pick.wait;
        continue;
      }
      await pick.ready;
      if (pick.affinity !== 'held') await handOver(config, pick.handle, tenant);
      return { pool: config.name, handle: pick.handle, tenant, affinity: pick.affinity };
    }
  }

  /** Give the tenant its key in the container; if that fails the container goes back to the pool. */
  async function handOver(config: PoolConfig, handle: string, tenant: string) {
    try {
      await tenantKeys?.give(handle, tenant);
    } catch (err) {
      await locked(config.name, () => update(handle, { status: 'available', tenant: null }));
      log.warn(
        { event: 'pool.hand_over_failed', pool: config.name, handle, tenant, err: String(err) },
        'tenant key not delivered; container returned to the pool',
      );
      throw err;
    }
  }

  /** Members whose container was deleted leave the pool; an interrupted create or wipe is wiped again. */
  function recover(config: PoolConfig, { resume }: { resume: boolean }) {
    for (const m of membersOf(config.name)) {
      if (busy.has(m.handle)) continue;
      const row = containers.find(m.handle);
      if (!row || row.state === 'gone') forget(m.handle);
      else if (resume && m.status === 'pending') wipe(config, m.handle).catch(() => {});
    }
  }

  /** Idle containers above `min`, idle past the pool's idleSeconds, are removed. */
  async function shrink(config: PoolConfig) {
    const handles = await locked(config.name, () => {
      const idleMs = (config.idleSeconds ?? DEFAULT_IDLE_SECONDS) * 1000;
      const extra = surplus(membersOf(config.name), config.min, idleMs, Date.now());
      for (const handle of extra) update(handle, { status: 'pending' });
      return extra;
    });
    for (const handle of handles) {
      await timed(metrics.pool.destroyDuration, config.name, containers.destroy(handle)).catch((err) =>
        log.warn({ event: 'pool.shrink_failed', pool: config.name, handle, err: String(err) }, 'not removed'),
      );
      forget(handle);
      log.info({ event: 'pool.shrunk', pool: config.name, handle }, 'idle container removed');
    }
  }

  /** Wipes the tenant's container and keeps it warm for them; answers once it is wiped. */
  async function release(config: PoolConfig, tenant: string) {
    const name = config.name;
    const handle = await locked(name, () => {
      const held = membersOf(name).find((m) => m.status === 'borrowed' && m.tenant === tenant);
      if (!held) throw new AppError('not_found', `${tenant} holds no container of pool ${name}`);
      update(held.handle, { status: 'pending', tenant: null, lastTenant: tenant });
      return held.handle;
    });
    publish(config);
    log.info({ event: 'pool.released', pool: name, tenant, handle }, `${tenant} released ${handle}`);
    // The wipe removes the key file with the container; revoking stops any copy of it too.
    await tenantKeys
      ?.take(handle, tenant)
      .catch((err) =>
        log.warn(
          { event: 'pool.key_revoke_failed', handle, tenant, err: String(err) },
          'tenant key not revoked',
        ),
      );
    try {
      await wipe(config, handle);
    } finally {
      void topUp(config);
    }
    return { pool: name, handle, tenant };
  }

  /** Never throws: a failing sweep is logged and the next one tries again. */
  async function sweep(resume = false) {
    for (const config of pools) {
      try {
        recover(config, { resume });
        await shrink(config);
        publish(config);
        await topUp(config);
      } catch (err) {
        log.warn({ event: 'pool.sweep_failed', pool: config.name, err: String(err) }, 'pool sweep failed');
      }
    }
  }

  return {
    async start() {
      await sweep(true);
      timer = setInterval(() => void sweep(), sweepMs);
    },

    stop() {
      clearInterval(timer);
    },

    /** One sweep now (the timer runs one every sweepMs). */
    sweep: () => sweep(),

    async acquire(name: string, tenant: string): Promise<Acquired> {
      const config = configOf(name);
      const end = metrics.pool.acquireDuration.startTimer({ pool: name });
      try {
        const acquired = await take(config, tenant);
        end({ status: 'ok' });
        log.info({ event: 'pool.acquired', ...acquired }, `${tenant} acquired ${acquired.handle}`);
        return acquired;
      } catch (err) {
        end({ status: err instanceof PoolExhausted ? 'exhausted' : 'error' });
        throw err;
      } finally {
        publish(config);
        void topUp(config);
      }
    },

    /** Wipes the tenant's container and keeps it warm for them; answers once it is wiped. */
    release: (name: string, tenant: string) =>
      timed(metrics.pool.releaseDuration, name, release(configOf(name), tenant)),

    /** The tenant holding (or about to hold) this container, if it is a pool's. */
    tenantOf(handle: string): string | undefined {
      return db.select().from(poolMembers).where(eq(poolMembers.handle, handle)).get()?.tenant ?? undefined;
    },

    list() {
      return pools.map((config) => {
        const { members, ...counts } = summary(config);
        return {
          ...counts,
          members: members.map(({ handle, status, tenant, lastTenant }) => ({
            handle,
            status,
            tenant,
            lastTenant,
          })),
        };
      });
    },
  };
}

export type Pools = ReturnType<typeof createPools>;
