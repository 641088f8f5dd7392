import { AppError, type Logger } from '@beacon/core';
import { eq } from 'drizzle-orm';
import type { ContainerDetail, DockerClient, LogLine, LogOptions } from './clients/docker';
import type { PlatformDb } from './db';
import { type ContainerRow, containers } from './db/schema/containers';
import {
  type ContainerSpec,
  type CreateContainerInput,
  containerName,
  type SpecDefaults,
  specFrom,
} from './domain/spec';
import type { PlatformEvents } from './events';
import type { PlatformMetrics } from './metrics';
import { reconcile } from './reconcile';
import type { Secrets } from './secrets';

export type RecordState = 'creating' | 'running' | 'stopped' | 'recycling' | 'gone';
export type RecycleReason = 'unhealthy' | 'ttl' | 'oom' | 'manual' | 'released';

export interface ContainerView {
  handle: string;
  owner: string;
  image: string;
  state: string;
  containerId: string | null;
  createdAt: string;
  expiresAt: string | null;
  /** The spec without env values: they may be credentials. */
  spec: Omit<ContainerSpec, 'env'> & { envKeys: string[] };
}

export function toView(row: ContainerRow): ContainerView {
  const { env, ...spec } = row.spec as ContainerSpec;
  return {
    handle: row.handle,
    owner: row.owner,
    image: row.image,
    state: row.state,
    containerId: row.containerId,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt ? row.expiresAt.toISOString() : null,
    spec: { ...spec, envKeys: Object.keys(env ?? {}) },
  };
}

export interface ContainerServiceDeps {
  docker: DockerClient;
  db: PlatformDb;
  metrics: PlatformMetrics;
  log: Logger;
  defaults: SpecDefaults;
  events?: Pick<PlatformEvents, 'emit'>;
  secrets?: Pick<Secrets, 'mount' | 'unmount'>;
  /** Extra env for a container at provision (e.g. its proxy key); values never logged. */
  provisionEnv?: (handle: string, owner: string) => Promise<Record<string, string>>;
  /** Undo provisionEnv when a container is destroyed (revoke its proxy key); a failure is logged. */
  releaseEnv?: (handle: string, owner: string) => Promise<void>;
}

export type ContainerService = ReturnType<typeof createContainerService>;

export function createContainerService({
  docker,
  db,
  metrics,
  log,
  defaults,
  provisionEnv,
  releaseEnv,
  events,
  secrets,
}: ContainerServiceDeps) {
  const recycled: { at: number; handle: string; reason: RecycleReason }[] = [];
  const emit = (type: string, handle: string, detail?: Record<string, unknown>) =>
    events?.emit(type, handle, find(handle)?.containerId ?? '', detail);
  const find = (handle: string) => db.select().from(containers).where(eq(containers.handle, handle)).get();
  const setState = (handle: string, state: RecordState, containerId?: string | null) =>
    db
      .update(containers)
      .set({ state, ...(containerId !== undefined ? { containerId } : {}) })
      .where(eq(containers.handle, handle))
      .run();

  const require = (handle: string): ContainerRow => {
    const row = find(handle);
    if (!row || row.state === 'gone') throw new AppError('not_found', `no container with handle ${handle}`);
    return row;
  };

  async function counted<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      const result = await fn();
      metrics.operations.inc({ operation, status: 'ok' });
      return result;
    } catch (err) {
      metrics.operations.inc({ operation, status: 'error' });
      throw err;
    }
  }

  /** start / stop / restart: the engine acts, the record follows. */
  async function lifecycle(handle: string, action: 'start' | 'stop' | 'restart', state: RecordState) {
    require(handle);
    await counted(action, () => docker[action](containerName(handle)));
    setState(handle, state);
    return toView(require(handle));
  }

  /** Create and start `beacon-<handle>`; a failure removes what was created. Returns the container id. */
  async function provision(handle: string, owner: string, spec: ContainerSpec): Promise<string> {
    const end = metrics.provisionDuration.startTimer();
    let id: string | undefined;
    try {
      const env = { ...spec.env, ...(provisionEnv ? await provisionEnv(handle, owner) : {}) };
      // Secrets are resolved first: a missing source fails the provision before any container exists.
      const secretsBind = secrets ? await secrets.mount(handle) : undefined;
      id = await docker.create({
        name: containerName(handle),
        image: spec.image,
        ...(spec.command ? { command: spec.command } : {}),
        env,
        labels: {
          'beacon.handle': handle,
          'beacon.owner': owner,
          ...(spec.pool ? { 'beacon.pool': spec.pool } : {}),
        },
        memoryBytes: spec.memoryMb * 1024 * 1024,
        nanoCpus: Math.round(spec.cpus * 1e9),
        ...(secretsBind ? { binds: [secretsBind] } : {}),
        ...(defaults.network ? { network: defaults.network } : {}),
      });
      await docker.start(id);
      end({ status: 'ok' });
      log.info(
        { event: 'container.provisioned', handle, owner, image: spec.image, containerId: id },
        'provisioned',
      );
      return id;
    } catch (err) {
      end({ status: 'error' });
      if (id) await docker.remove(id).catch(() => {});
      throw err;
    }
  }

  return {
    provision,
    find,
    setState,

    /** `pool`: the container is one of that pool's (labelled beacon.pool, kept in its spec). */
    async create(input: CreateContainerInput, pool?: string): Promise<ContainerView> {
      const existing = find(input.handle);
      if (existing && existing.state !== 'gone')
        throw new AppError('conflict', `handle ${input.handle} exists`);
      const spec = { ...specFrom(input, defaults), ...(pool ? { pool } : {}) };
      const owner = input.owner ?? input.handle;
      const now = new Date();
      const row = {
        handle: input.handle,
        owner,
        image: spec.image,
        spec,
        state: 'creating' as const,
        containerId: null,
        createdAt: now,
        expiresAt: spec.ttlSeconds > 0 ? new Date(now.getTime() + spec.ttlSeconds * 1000) : null,
      };
      if (existing) db.delete(containers).where(eq(containers.handle, input.handle)).run();
      db.insert(containers).values(row).run();
      try {
        const id = await counted('create', () => provision(input.handle, owner, spec));
        setState(input.handle, 'running', id);
      } catch (err) {
        // Nothing half-written: the record goes with the failed container.
        db.delete(containers).where(eq(containers.handle, input.handle)).run();
        throw err;
      }
      return toView(require(input.handle));
    },

    list: () => db.select().from(containers).all(),

    get: require,

    async inspect(handle: string): Promise<ContainerDetail | undefined> {
      require(handle);
      return docker.inspect(containerName(handle));
    },

    start: (handle: string) => lifecycle(handle, 'start', 'running'),
    stop: (handle: string) => lifecycle(handle, 'stop', 'stopped'),
    restart: (handle: string) => lifecycle(handle, 'restart', 'running'),

    async destroy(handle: string) {
      const { owner } = require(handle);
      await counted('destroy', async () => {
        try {
          await docker.remove(containerName(handle));
        } catch (err) {
          if (!(err instanceof AppError && err.code === 'not_found')) throw err;
        }
      });
      await secrets?.unmount(handle);
      db.delete(containers).where(eq(containers.handle, handle)).run();
      await releaseEnv?.(handle, owner).catch((err) =>
        // The next provision of this handle revokes the key again.
        log.warn({ event: 'container.release_failed', handle, err: String(err) }, 'could not revoke its key'),
      );
      log.info({ event: 'container.destroyed', handle }, 'destroyed');
    },

    /** Destroy and provision again from the stored spec under the same handle (new container id). */
    async recycle(handle: string, reason: RecycleReason): Promise<ContainerView> {
      const row = require(handle);
      if (row.state === 'recycling') throw new AppError('conflict', `${handle} is already being recycled`);
      setState(handle, 'recycling');
      const spec = row.spec as ContainerSpec;
      try {
        const id = await counted('recycle', async () => {
          await docker.remove(containerName(handle)).catch((err) => {
            if (!(err instanceof AppError && err.code === 'not_found')) throw err;
          });
          return provision(handle, row.owner, spec);
        });
        const expiresAt = spec.ttlSeconds > 0 ? new Date(Date.now() + spec.ttlSeconds * 1000) : null;
        db.update(containers)
          .set({ state: 'running', containerId: id, expiresAt })
          .where(eq(containers.handle, handle))
          .run();
        metrics.recycles.inc({ reason });
        recycled.push({ at: Date.now(), handle, reason });
        if (recycled.length > 10_000) recycled.shift();
        log.info({ event: 'container.recycled', handle, reason, containerId: id }, `recycled (${reason})`);
        emit('container.recycled', handle, { reason });
      } catch (err) {
        setState(handle, 'stopped');
        log.error({ event: 'container.recycle_failed', handle, reason, err: String(err) }, 'recycle failed');
        throw err;
      }
      return toView(require(handle));
    },

    /** Recycles since `sinceMs` (kept in memory; the counter has the full history). */
    recycledSince: (sinceMs: number) => recycled.filter((r) => r.at >= sinceMs),

    /** The engine reported a lifecycle action on a managed container (docker events). */
    applyEngineAction(handle: string, action: string) {
      const row = find(handle);
      if (!row || row.state === 'creating' || row.state === 'recycling') return;
      const next = { start: 'running', die: 'stopped', stop: 'stopped', destroy: 'gone' }[action] as
        | RecordState
        | undefined;
      if (next && next !== row.state) setState(handle, next);
    },

    async logs(handle: string, options: LogOptions): Promise<LogLine[]> {
      require(handle);
      return docker.logs(containerName(handle), options);
    },

    reconcile: () => reconcile({ docker, db, log, defaults, setState }),
  };
}
