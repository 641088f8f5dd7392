import { AppError, type Logger } from '@beacon/core';
import { untilServing } from '../clients/container-health';
import type { DockerClient } from '../clients/docker';
import { type ContainerView, toView } from '../domain/container-view';
import {
  type ContainerSpec,
  type CreateContainerInput,
  containerName,
  type SpecDefaults,
  specFrom,
} from '../domain/spec';
import type { PlatformMetrics } from '../metrics';
import type { createExits } from './exits';
import type { Provision } from './provision';
import type { Records } from './records';
import type { Releases } from './releases';

export type RecycleReason = 'unhealthy' | 'ttl' | 'oom' | 'manual' | 'released';

export interface MakerDeps {
  docker: DockerClient;
  records: Records;
  exits: Pick<ReturnType<typeof createExits>, 'checkStarted' | 'cancelRestart' | 'markOwn' | 'vanished'>;
  provision: Provision;
  metrics: PlatformMetrics;
  log: Logger;
  defaults: SpecDefaults;
  releases?: Pick<Releases, 'schedule' | 'cancel'> | undefined;
  readyTimeoutMs: number;
}

/** Removes the handle's container; one already gone is not an error. */
export const removeIfThere = (docker: DockerClient, handle: string) =>
  docker.remove(containerName(handle)).catch((err) => {
    if (!(err instanceof AppError && err.code === 'not_found')) throw err;
  });

/** The two commands that make a container: create (a new record) and recycle (the same record, a new container). */
export function createMaker({
  docker,
  records,
  exits,
  provision,
  metrics,
  log,
  defaults,
  releases,
  readyTimeoutMs,
}: MakerDeps) {
  const recycled: { at: number; handle: string; reason: RecycleReason }[] = [];
  const { existing, counted } = records;

  return {
    /** `pool`: the container is one of that pool's. `wait`: answer once its health check passes. */
    async create(
      input: CreateContainerInput,
      { pool, wait = true }: { pool?: string; wait?: boolean } = {},
    ): Promise<ContainerView> {
      const previous = records.find(input.handle);
      if (previous && previous.state !== 'gone')
        throw new AppError('conflict', `handle ${input.handle} exists`);
      const spec = { ...specFrom(input, defaults), ...(pool ? { pool } : {}) };
      const owner = input.owner ?? input.handle;
      const now = new Date();
      if (previous) records.remove(input.handle);
      records.insert({
        handle: input.handle,
        owner,
        image: spec.image,
        spec,
        state: 'creating',
        desired: 'running',
        containerId: null,
        createdAt: now,
        expiresAt: spec.ttlSeconds > 0 ? new Date(now.getTime() + spec.ttlSeconds * 1000) : null,
      });
      await releases?.cancel(input.handle);
      try {
        const id = await counted('create', input.handle, () => provision(input.handle, owner, spec));
        records.setDesired(input.handle, 'running', { state: 'running', containerId: id });
        await exits.checkStarted(input.handle, id);
      } catch (err) {
        // Nothing half-written: the record goes with the failed container, and so does its key.
        records.remove(input.handle);
        await releases?.schedule(input.handle);
        throw err;
      }
      if (wait) await untilServing(docker, input.handle, spec, readyTimeoutMs);
      return toView(existing(input.handle));
    },

    /** Destroy and provision again from the stored spec under the same handle (new container id). */
    async recycle(handle: string, reason: RecycleReason): Promise<ContainerView> {
      const row = existing(handle);
      if (row.state === 'recycling') throw new AppError('conflict', `${handle} is already being recycled`);
      records.setState(handle, 'recycling');
      exits.cancelRestart(handle);
      exits.markOwn(row.containerId);
      const spec = row.spec as ContainerSpec;
      try {
        const id = await counted('recycle', handle, async () => {
          await removeIfThere(docker, handle);
          return provision(handle, row.owner, spec);
        });
        const expiresAt = spec.ttlSeconds > 0 ? new Date(Date.now() + spec.ttlSeconds * 1000) : null;
        records.setDesired(handle, 'running', { state: 'running', containerId: id, expiresAt });
        await exits.checkStarted(handle, id);
        metrics.recycles.inc({ reason });
        recycled.push({ at: Date.now(), handle, reason });
        if (recycled.length > 10_000) recycled.shift();
        log.info({ event: 'container.recycled', handle, reason, containerId: id }, `recycled (${reason})`);
        records.emit('container.recycled', handle, { reason });
      } catch (err) {
        // The old container is gone and no new one runs: the record says so, and its key goes.
        records.setState(handle, 'gone', null);
        await exits.vanished(handle);
        log.error({ event: 'container.recycle_failed', handle, reason, err: String(err) }, 'recycle failed');
        throw err;
      }
      return toView(existing(handle));
    },

    /** Recycles since `sinceMs` (kept in memory; the counter has the full history). */
    recycledSince: (sinceMs: number) => recycled.filter((r) => r.at >= sinceMs),
  };
}
