import { basename } from 'node:path';
import { AppError, type Logger, PROXY_KEY_FILE } from '@beacon/core';
import { eq } from 'drizzle-orm';
import { untilServing } from './clients/container-health';
import type { ContainerDetail, DockerClient, LogLine, LogOptions } from './clients/docker';
import type { PlatformDb } from './db';
import { type ContainerRow, containers, type RecordState } from './db/schema/containers';
import { type ContainerView, toView } from './domain/container-view';
import { lastExitOf, Marks } from './domain/exits';
import type { BackoffPolicy } from './domain/restart-policy';
import {
  type ContainerSpec,
  type CreateContainerInput,
  containerName,
  poolOf,
  type SpecDefaults,
  specFrom,
} from './domain/spec';
import type { PlatformEvents } from './events';
import type { PlatformMetrics } from './metrics';
import { createProvisioner } from './provision';
import type { Releases } from './releases';
import { createRestarter } from './restarter';
import { fileOwner, type Secrets } from './secrets';

export type RecycleReason = 'unhealthy' | 'ttl' | 'oom' | 'manual' | 'released';

export interface ContainerServiceDeps {
  docker: DockerClient;
  db: PlatformDb;
  metrics: PlatformMetrics;
  log: Logger;
  defaults: SpecDefaults;
  events?: Pick<PlatformEvents, 'emit'>;
  secrets?: Pick<Secrets, 'mount' | 'writeFile'>;
  releases?: Pick<Releases, 'schedule' | 'cancel'>;
  /** Non-secret env for every container (where NATS and the proxy are). */
  env?: (handle: string) => Record<string, string>;
  /** A fresh proxy key for the container, delivered as the file PROXY_KEY_FILE (needs `secrets`). */
  mintKey?: (handle: string, owner: string) => Promise<string>;
  restartPolicy?: BackoffPolicy;
  /** How long a create waits for the container's health check before answering 504. */
  readyTimeoutMs?: number;
}

export type ContainerService = ReturnType<typeof createContainerService>;

/** The platform's own stops and removals: the engine's `die` for them is not a death. */
const OWN_ACTION_MS = 60_000;
/** Engine `oom` events of one container this close together are one incident. */
const OOM_INCIDENT_MS = 30_000;

export function createContainerService({
  docker,
  db,
  metrics,
  log,
  defaults,
  events,
  secrets,
  releases,
  env,
  mintKey,
  restartPolicy = { initialMs: 10_000, maxMs: 300_000 },
  readyTimeoutMs = 60_000,
}: ContainerServiceDeps) {
  const recycled: { at: number; handle: string; reason: RecycleReason }[] = [];
  /** Container ids the platform itself is stopping or removing, until when. */
  const ownActions = new Marks();
  const oomIncidents = new Marks();

  const find = (handle: string) => db.select().from(containers).where(eq(containers.handle, handle)).get();
  const update = (handle: string, values: Partial<ContainerRow>) =>
    db.update(containers).set(values).where(eq(containers.handle, handle)).run();
  const setState = (handle: string, state: RecordState, containerId?: string | null) =>
    update(handle, { state, ...(containerId !== undefined ? { containerId } : {}) });
  const emit = (type: string, handle: string, detail?: Record<string, unknown>) =>
    events?.emit(type, handle, find(handle)?.containerId ?? '', detail);

  const existing = (handle: string): ContainerRow => {
    const row = find(handle);
    if (!row || row.state === 'gone') throw new AppError('not_found', `no container with handle ${handle}`);
    return row;
  };

  const markOwn = (id: string | null | undefined, ms = OWN_ACTION_MS) => ownActions.mark(id, ms);

  const publishDesired = (row: Pick<ContainerRow, 'handle' | 'desired'>) =>
    metrics.desiredRunning.set({ handle: row.handle }, row.desired === 'running' ? 1 : 0);
  /** The operator's wish (and whatever else changed with it), with its gauge. */
  const setDesired = (handle: string, desired: 'running' | 'stopped', values: Partial<ContainerRow> = {}) => {
    update(handle, { ...values, desired });
    publishDesired({ handle, desired });
  };
  function forgetSeries(handle: string) {
    metrics.desiredRunning.remove({ handle });
    metrics.restarts.remove({ handle });
  }

  async function counted<T>(operation: string, handle: string, fn: () => Promise<T>): Promise<T> {
    const pool = poolOf(find(handle));
    try {
      const result = await fn();
      metrics.operations.inc({ operation, status: 'ok', pool });
      return result;
    } catch (err) {
      metrics.operations.inc({ operation, status: 'error', pool });
      throw err;
    }
  }

  const provision = createProvisioner({
    docker,
    metrics,
    log,
    defaults,
    markOwn,
    ...(secrets ? { secrets } : {}),
    ...(env ? { env } : {}),
    ...(mintKey ? { mintKey } : {}),
  });

  const restarter = createRestarter({
    policy: restartPolicy,
    log,
    restart: async (handle) => {
      const row = find(handle);
      if (row?.desired !== 'running' || row.state === 'gone') return;
      await counted('restart', handle, () => docker.start(containerName(handle)));
      const restarts = row.restarts + 1;
      update(handle, { state: 'running', restarts });
      metrics.restarts.inc({ handle });
      log.warn(
        { event: 'container.restarted', handle, restarts, lastExit: row.lastExit },
        'restarted after it exited',
      );
      emit('container.restarted', handle, { restarts, lastExit: row.lastExit });
    },
  });

  /** The container exited on its own: remember how, report it once, restart it if it is meant to run. */
  async function exited(handle: string, id: string) {
    const row = find(handle);
    if (!row || row.state === 'creating' || row.state === 'recycling' || row.state === 'gone') return;
    const detail = await docker.inspect(id);
    // The engine's OOMKilled flag races its own exit (Docker 20.10 may deliver the exit first and say false):
    // an `oom` event seen for this container settles it.
    const exit = detail?.exit && { ...detail.exit, oomKilled: detail.exit.oomKilled || oomIncidents.has(id) };
    const { lastExit, upMs } = lastExitOf(exit, detail?.startedAt);
    update(handle, { state: 'stopped', lastExit });
    if (lastExit.oomKilled) oomIncident(handle, id, lastExit.code);
    else emit('container.died', handle, { exitCode: lastExit.code });
    if (row.desired === 'running') restarter.exited(handle, upMs);
  }

  /** One OOM incident, however many `oom` events and exits the engine reports for it. */
  function oomIncident(handle: string, id: string, exitCode?: number) {
    if (!oomIncidents.first(id, OOM_INCIDENT_MS)) return;
    const now = Date.now();
    const row = find(handle);
    // A process of the container was killed; if the container itself exits, exited() says so instead,
    // and an exit already recorded without the flag (the engine told the exit first) is corrected.
    if (exitCode === undefined && row?.containerId === id)
      update(handle, {
        lastExit:
          row.state === 'stopped' && row.lastExit
            ? { ...row.lastExit, oomKilled: true, reason: 'oom' }
            : {
                code: 137,
                oomKilled: true,
                at: new Date(now).toISOString(),
                reason: 'oom: a process was killed',
              },
      });
    metrics.oomKills.inc();
    emit('container.oom', handle, exitCode === undefined ? undefined : { exitCode });
  }

  /**
   * Just provisioned (or recycled): an exit before the record said `running` was an event about a container
   * it did not know yet, so it is looked for once now (an image that exits or is OOM-killed at once).
   */
  async function checkStarted(handle: string, id: string) {
    const detail = await docker.inspect(id).catch(() => undefined);
    if (detail && detail.state !== 'running' && find(handle)?.containerId === id) await exited(handle, id);
  }

  /** The container vanished: its record goes, and what it held is released. */
  async function vanished(handle: string) {
    restarter.cancel(handle);
    forgetSeries(handle);
    await releases?.schedule(handle);
  }

  return {
    find,
    setState,

    /** `pool`: the container is one of that pool's. `wait`: answer once its health check passes. */
    async create(
      input: CreateContainerInput,
      { pool, wait = true }: { pool?: string; wait?: boolean } = {},
    ): Promise<ContainerView> {
      const previous = find(input.handle);
      if (previous && previous.state !== 'gone')
        throw new AppError('conflict', `handle ${input.handle} exists`);
      const spec = { ...specFrom(input, defaults), ...(pool ? { pool } : {}) };
      const owner = input.owner ?? input.handle;
      const now = new Date();
      if (previous) db.delete(containers).where(eq(containers.handle, input.handle)).run();
      db.insert(containers)
        .values({
          handle: input.handle,
          owner,
          image: spec.image,
          spec,
          state: 'creating',
          desired: 'running',
          containerId: null,
          createdAt: now,
          expiresAt: spec.ttlSeconds > 0 ? new Date(now.getTime() + spec.ttlSeconds * 1000) : null,
        })
        .run();
      await releases?.cancel(input.handle);
      try {
        const id = await counted('create', input.handle, () => provision(input.handle, owner, spec));
        setDesired(input.handle, 'running', { state: 'running', containerId: id });
        await checkStarted(input.handle, id);
      } catch (err) {
        // Nothing half-written: the record goes with the failed container, and so does its key.
        db.delete(containers).where(eq(containers.handle, input.handle)).run();
        await releases?.schedule(input.handle);
        throw err;
      }
      if (wait) await untilServing(docker, input.handle, spec, readyTimeoutMs);
      return toView(existing(input.handle));
    },

    list: () => db.select().from(containers).all(),

    get: existing,

    async inspect(handle: string): Promise<ContainerDetail | undefined> {
      existing(handle);
      return docker.inspect(containerName(handle));
    },

    async start(handle: string) {
      const row = existing(handle);
      await counted('start', handle, () => docker.start(containerName(handle)));
      setDesired(handle, 'running', { state: 'running' });
      if (row.containerId) ownActions.clear(row.containerId);
      return toView(existing(handle));
    },

    /** Stays stopped (no health check, restart or recycle, not "down") until started. */
    async stop(handle: string) {
      const row = existing(handle);
      setDesired(handle, 'stopped');
      restarter.cancel(handle);
      markOwn(row.containerId);
      await counted('stop', handle, () => docker.stop(containerName(handle)));
      setState(handle, 'stopped');
      return toView(existing(handle));
    },

    async restart(handle: string) {
      const row = existing(handle);
      markOwn(row.containerId);
      await counted('restart', handle, () => docker.restart(containerName(handle)));
      setDesired(handle, 'running', { state: 'running' });
      // The engine's events for the restart arrive just after it returns.
      markOwn(row.containerId, 2000);
      return toView(existing(handle));
    },

    async destroy(handle: string) {
      const row = existing(handle);
      markOwn(row.containerId);
      restarter.cancel(handle);
      await counted('destroy', handle, async () => {
        try {
          await docker.remove(containerName(handle));
        } catch (err) {
          if (!(err instanceof AppError && err.code === 'not_found')) throw err;
        }
      });
      db.delete(containers).where(eq(containers.handle, handle)).run();
      await vanished(handle);
      log.info({ event: 'container.destroyed', handle }, 'destroyed');
    },

    /** Destroy and provision again from the stored spec under the same handle (new container id). */
    async recycle(handle: string, reason: RecycleReason): Promise<ContainerView> {
      const row = existing(handle);
      if (row.state === 'recycling') throw new AppError('conflict', `${handle} is already being recycled`);
      setState(handle, 'recycling');
      restarter.cancel(handle);
      markOwn(row.containerId);
      const spec = row.spec as ContainerSpec;
      try {
        const id = await counted('recycle', handle, async () => {
          await docker.remove(containerName(handle)).catch((err) => {
            if (!(err instanceof AppError && err.code === 'not_found')) throw err;
          });
          return provision(handle, row.owner, spec);
        });
        const expiresAt = spec.ttlSeconds > 0 ? new Date(Date.now() + spec.ttlSeconds * 1000) : null;
        setDesired(handle, 'running', { state: 'running', containerId: id, expiresAt });
        await checkStarted(handle, id);
        metrics.recycles.inc({ reason });
        recycled.push({ at: Date.now(), handle, reason });
        if (recycled.length > 10_000) recycled.shift();
        log.info({ event: 'container.recycled', handle, reason, containerId: id }, `recycled (${reason})`);
        emit('container.recycled', handle, { reason });
      } catch (err) {
        // The old container is gone and no new one runs: the record says so, and its key goes.
        setState(handle, 'gone', null);
        await vanished(handle);
        log.error({ event: 'container.recycle_failed', handle, reason, err: String(err) }, 'recycle failed');
        throw err;
      }
      return toView(existing(handle));
    },

    /** Recycles since `sinceMs` (kept in memory; the counter has the full history). */
    recycledSince: (sinceMs: number) => recycled.filter((r) => r.at >= sinceMs),

    /** The engine reported an action on one of this instance's containers. */
    async applyEngineAction(handle: string, action: string, id: string): Promise<void> {
      if (action === 'oom') return oomIncident(handle, id);
      const row = find(handle);
      // Actions of the platform's own stops and removals, or of a container no longer the record's.
      if (!row || row.containerId !== id || ownActions.has(id)) return;
      if (row.state === 'creating' || row.state === 'recycling') return;
      if (action === 'die') return exited(handle, id);
      if (action === 'start' && row.state !== 'running') setState(handle, 'running');
      if (action === 'stop') {
        // `docker stop` behind the platform's back: the operator wants it stopped, as Docker's unless-stopped.
        setDesired(handle, 'stopped', { state: 'stopped' });
        restarter.cancel(handle);
      }
      if (action === 'destroy') {
        setState(handle, 'gone', null);
        await vanished(handle);
      }
    },

    /** A health cycle found a container meant to run not running (an exit whose event was missed). */
    async noticeExited(handle: string) {
      const row = find(handle);
      if (!row?.containerId || row.desired !== 'running' || restarter.isPending(handle)) return;
      await exited(handle, row.containerId);
    },

    async logs(handle: string, options: LogOptions): Promise<LogLine[]> {
      existing(handle);
      return docker.logs(containerName(handle), options);
    },

    /** Give a running container another proxy key (a pool's tenant), replacing its key file. */
    async giveKey(handle: string, key: string) {
      const row = existing(handle);
      if (!secrets) throw new Error('a proxy key needs the secrets writer to reach the container');
      const user = fileOwner(await docker.imageUser(row.image));
      await secrets.writeFile(handle, basename(PROXY_KEY_FILE), key, user);
    },

    /** Records whose container vanished get released; called by reconcile. */
    vanished,
    publishDesired,
    /** At shutdown: no restart fires any more. */
    close: () => restarter.stop(),
  };
}
