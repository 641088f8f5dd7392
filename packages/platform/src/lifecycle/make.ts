import { randomBytes } from 'node:crypto';
import { AppError, type Logger } from '@beacon/core';
import { untilServing } from '../clients/container-health';
import type { DockerClient } from '../clients/docker';
import type { RecordState } from '../db/schema/containers';
import { type ContainerView, toView } from '../domain/container-view';
import {
  type ContainerSpec,
  type CreateContainerInput,
  containerName,
  overMaximum,
  type SpecDefaults,
  specFrom,
} from '../domain/spec';
import type { PlatformMetrics } from '../metrics';
import type { createExits } from './exits';
import type { Provisioner } from './provision';
import type { Records } from './records';
import type { Releases } from './releases';

export type RecycleReason = 'unhealthy' | 'ttl' | 'oom' | 'manual' | 'released';

export interface MakerDeps {
  docker: DockerClient;
  records: Records;
  exits: Pick<ReturnType<typeof createExits>, 'checkStarted' | 'cancelRestart' | 'markOwn' | 'vanished'>;
  provisioner: Provisioner;
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
  provisioner,
  metrics,
  log,
  defaults,
  releases,
  readyTimeoutMs,
}: MakerDeps) {
  const recycled: { at: number; handle: string; reason: RecycleReason }[] = [];
  const { existing, counted } = records;
  const { provision, build, launch, discard } = provisioner;

  return {
    /** `pool`: the container is one of that pool's. `wait`: answer once its health check passes. */
    async create(
      input: CreateContainerInput,
      { pool, wait = true }: { pool?: string; wait?: boolean } = {},
    ): Promise<ContainerView> {
      const previous = records.find(input.handle);
      if (previous && previous.state !== 'gone')
        throw new AppError('conflict', `handle ${input.handle} exists`);
      // The kernel's HTTP port answers only who holds this (the gateway, through the platform).
      const kernelToken = randomBytes(24).toString('base64url');
      const spec = { ...specFrom(input, defaults), ...(pool ? { pool } : {}), kernelToken };
      const over = overMaximum(spec, defaults);
      if (over) throw new AppError('bad_request', over);
      // Allowed by the operator, still a weakening: said where the audit trail's create line is read.
      if (spec.capAdd || (spec.pidsLimit ?? 0) > defaults.pidsLimit)
        log.warn(
          {
            event: 'container.weakened',
            handle: input.handle,
            capAdd: spec.capAdd,
            pidsLimit: spec.pidsLimit,
          },
          'created with a weaker confinement than the default',
        );
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
      // The series exists from 0, so increase() sees the first restart (an alert on 3 needs 3, not 4).
      // From 0 at create, so increase() sees the first restart and the first OOM kill.
      metrics.restarts.inc({ handle: input.handle }, 0);
      metrics.oomKills.inc({ handle: input.handle }, 0);
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

    /**
     * A new container from the stored spec under the same handle (new container id). The replacement is made
     * first (key minted, secret files written, created under a name of its own); only then is the old one
     * removed and the new one named and started. A recycle that cannot make the replacement leaves the old
     * container running, says why (an event and a log line) and throws.
     */
    async recycle(handle: string, reason: RecycleReason): Promise<ContainerView> {
      const row = existing(handle);
      if (row.state === 'recycling') throw new AppError('conflict', `${handle} is already being recycled`);
      const spec = row.spec as ContainerSpec;
      records.setState(handle, 'recycling');
      let next: string;
      try {
        next = await counted('recycle', handle, () =>
          build(handle, row.owner, spec, `${containerName(handle)}-next`),
        );
      } catch (err) {
        records.setState(handle, row.state as RecordState);
        log.error(
          { event: 'container.recycle_failed', handle, reason, err: String(err) },
          'recycle failed before the old container was touched: it runs on',
        );
        records.emit('container.recycle_failed', handle, {
          reason,
          error: err instanceof Error ? err.message : String(err),
        });
        throw err;
      }
      exits.cancelRestart(handle);
      exits.markOwn(row.containerId);
      try {
        await removeIfThere(docker, handle);
        await docker.rename(next, containerName(handle));
        const id = await launch(handle, row.owner, spec, next);
        const expiresAt = spec.ttlSeconds > 0 ? new Date(Date.now() + spec.ttlSeconds * 1000) : null;
        records.setDesired(handle, 'running', { state: 'running', containerId: id, expiresAt });
        await exits.checkStarted(handle, id);
        metrics.recycles.inc({ reason });
        recycled.push({ at: Date.now(), handle, reason });
        if (recycled.length > 10_000) recycled.shift();
        log.info({ event: 'container.recycled', handle, reason, containerId: id }, `recycled (${reason})`);
        records.emit('container.recycled', handle, { reason });
      } catch (err) {
        // Past the point of no return (the old one removed): no container runs, the record says so, its key goes.
        await discard(next);
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
