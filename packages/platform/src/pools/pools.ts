import { AppError, type Logger } from '@beacon/core';
import type { PlatformDb } from '../db';
import type { ContainerService } from '../lifecycle/containers';
import type { PlatformMetrics } from '../metrics';
import { decide, type PoolConfig } from './domain';
import { createMembers } from './members';
import { createUpkeep, timed } from './upkeep';

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
  const members = createMembers(db, metrics);
  const upkeep = createUpkeep({ containers, members, metrics, log });
  let timer: Timer | undefined;

  const configOf = (name: string) => {
    const config = byName.get(name);
    if (!config) throw new AppError('not_found', `no pool ${name}`);
    return config;
  };

  function choose(config: PoolConfig, tenant: string): Choice {
    const pool = { pool: config.name };
    const decision = decide(members.of(config.name), tenant, config.max);
    switch (decision.kind) {
      case 'held':
        return { handle: decision.handle, affinity: 'held' };
      case 'take':
        members.update(decision.handle, { status: 'borrowed', tenant, lastTenant: tenant });
        (decision.affinity === 'hit' ? metrics.pool.affinityHits : metrics.pool.affinityMisses).inc(pool);
        if (decision.evicts) metrics.pool.affinityEvictions.inc(pool);
        return { handle: decision.handle, affinity: decision.affinity };
      case 'grow': {
        metrics.pool.affinityMisses.inc(pool);
        const { handle, ready } = upkeep.grow(config, tenant);
        return { handle, affinity: 'miss', ready };
      }
      case 'wait':
        // On their way (busy), or about to be resumed by the first sweep.
        return { wait: upkeep.untilOneSettles(decision.handles) };
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
      const pick = await upkeep.locked(config.name, () => choose(config, tenant));
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
      await upkeep.locked(config.name, () => members.update(handle, { status: 'available', tenant: null }));
      log.warn(
        { event: 'pool.hand_over_failed', pool: config.name, handle, tenant, err: String(err) },
        'tenant key not delivered; container returned to the pool',
      );
      throw err;
    }
  }

  /** Wipes the tenant's container and keeps it warm for them; answers once it is wiped. */
  async function release(config: PoolConfig, tenant: string) {
    const name = config.name;
    const handle = await upkeep.locked(name, () => {
      const held = members.of(name).find((m) => m.status === 'borrowed' && m.tenant === tenant);
      if (!held) throw new AppError('not_found', `${tenant} holds no container of pool ${name}`);
      members.update(held.handle, { status: 'pending', tenant: null, lastTenant: tenant });
      return held.handle;
    });
    members.publish(config);
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
      await upkeep.wipe(config, handle);
    } finally {
      void upkeep.topUp(config);
    }
    return { pool: name, handle, tenant };
  }

  return {
    async start() {
      await upkeep.sweep(pools, true);
      timer = setInterval(() => void upkeep.sweep(pools), sweepMs);
    },

    stop() {
      clearInterval(timer);
    },

    /** One sweep now (the timer runs one every sweepMs). */
    sweep: () => upkeep.sweep(pools),

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
        members.publish(config);
        void upkeep.topUp(config);
      }
    },

    /** Wipes the tenant's container and keeps it warm for them; answers once it is wiped. */
    release: (name: string, tenant: string) =>
      timed(metrics.pool.releaseDuration, name, release(configOf(name), tenant)),

    list() {
      return pools.map((config) => {
        const { members: rows, ...counts } = members.summary(config);
        return {
          ...counts,
          members: rows.map(({ handle, status, tenant, lastTenant }) => ({
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
