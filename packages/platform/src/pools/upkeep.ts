import { randomBytes } from 'node:crypto';
import type { Logger } from '@beacon/core';
import type { Histogram } from 'prom-client';
import type { ContainerService } from '../lifecycle/containers';
import type { PlatformMetrics } from '../metrics';
import { DEFAULT_IDLE_SECONDS, type PoolConfig, surplus } from './domain';
import type { Members } from './members';

export interface UpkeepDeps {
  containers: Pick<ContainerService, 'create' | 'recycle' | 'destroy' | 'find'>;
  members: Members;
  metrics: PlatformMetrics;
  log: Logger;
}

/** Slow member work, timed into one of the pool's duration histograms by outcome. */
export function timed<T>(
  histogram: Histogram<'pool' | 'status'>,
  pool: string,
  work: Promise<T>,
): Promise<T> {
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

/**
 * A pool's containers made, wiped and removed: new members (pending until they run), `min` kept warm within
 * `max`, idle ones past `min` removed, members whose container vanished forgotten. Membership decisions take
 * the pool's lock; creating and wiping run outside it, tracked as busy until they end.
 */
export function createUpkeep({ containers, members, metrics, log }: UpkeepDeps) {
  const locks = new Map<string, Promise<unknown>>();
  /** Containers being created or wiped, by handle; these promises never reject. */
  const busy = new Map<string, Promise<unknown>>();

  /** One membership decision per pool at a time. */
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
        members.publish(config);
      });
    busy.set(handle, settled);
    return work;
  }

  /** A new container for the pool: `pending` until it runs, then available (or the tenant's). */
  function grow(config: PoolConfig, tenant?: string) {
    const handle = `${config.name}-${randomBytes(6).toString('hex')}`;
    members.add({
      handle,
      pool: config.name,
      status: 'pending',
      tenant: tenant ?? null,
      lastTenant: tenant ?? null,
    });
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
      () => members.update(handle, { status: tenant ? 'borrowed' : 'available' }),
      (err) => {
        members.forget(handle);
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
      const all = members.of(config.name);
      const warm = all.filter((m) => m.status === 'available' || (m.status === 'pending' && !m.tenant));
      const missing = Math.min(config.min - warm.length, config.max - all.length);
      for (let i = 0; i < missing; i++) grow(config).ready.catch(() => {});
    });
  }

  /** Wipe a member (recycle its container); it is available again afterwards, or gone if that fails. */
  function wipe(config: PoolConfig, handle: string) {
    const wiped = timed(metrics.pool.wipeDuration, config.name, containers.recycle(handle, 'released')).then(
      () => members.update(handle, { status: 'available', tenant: null }),
      async (err) => {
        members.forget(handle);
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

  /** Members whose container was deleted leave the pool; an interrupted create or wipe is wiped again. */
  function recover(config: PoolConfig, { resume }: { resume: boolean }) {
    for (const m of members.of(config.name)) {
      if (busy.has(m.handle)) continue;
      const row = containers.find(m.handle);
      if (!row || row.state === 'gone') members.forget(m.handle);
      else if (resume && m.status === 'pending') wipe(config, m.handle).catch(() => {});
    }
  }

  /** Idle containers above `min`, idle past the pool's idleSeconds, are removed. */
  async function shrink(config: PoolConfig) {
    const handles = await locked(config.name, () => {
      const idleMs = (config.idleSeconds ?? DEFAULT_IDLE_SECONDS) * 1000;
      const extra = surplus(members.of(config.name), config.min, idleMs, Date.now());
      for (const handle of extra) members.update(handle, { status: 'pending' });
      return extra;
    });
    for (const handle of handles) {
      await timed(metrics.pool.destroyDuration, config.name, containers.destroy(handle)).catch((err) =>
        log.warn({ event: 'pool.shrink_failed', pool: config.name, handle, err: String(err) }, 'not removed'),
      );
      members.forget(handle);
      log.info({ event: 'pool.shrunk', pool: config.name, handle }, 'idle container removed');
    }
  }

  /** Never throws: a failing sweep is logged and the next one tries again. */
  async function sweep(pools: PoolConfig[], resume = false) {
    for (const config of pools) {
      try {
        recover(config, { resume });
        await shrink(config);
        members.publish(config);
        await topUp(config);
      } catch (err) {
        log.warn({ event: 'pool.sweep_failed', pool: config.name, err: String(err) }, 'pool sweep failed');
      }
    }
  }

  return {
    locked,
    grow,
    topUp,
    wipe,
    sweep,
    /** Until one of these members' work ends (or, for one not busy, a moment). */
    untilOneSettles: (handles: string[]) => Promise.race(handles.map((h) => busy.get(h) ?? Bun.sleep(100))),
  };
}
