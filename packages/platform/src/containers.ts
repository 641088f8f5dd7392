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

export type RecordState = 'creating' | 'running' | 'stopped' | 'recycling' | 'gone';

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

/** Docker state → the platform's record state. */
export function recordState(dockerState: string): RecordState {
  return dockerState === 'running' || dockerState === 'restarting' ? 'running' : 'stopped';
}

export interface ContainerServiceDeps {
  docker: DockerClient;
  db: PlatformDb;
  metrics: PlatformMetrics;
  log: Logger;
  defaults: SpecDefaults;
  events?: Pick<PlatformEvents, 'emit'>;
  /** Extra env for a container at provision (secrets, proxy key); values never logged. */
  provisionEnv?: (handle: string, owner: string) => Promise<Record<string, string>>;
}

export type ContainerService = ReturnType<typeof createContainerService>;

export function createContainerService({
  docker,
  db,
  metrics,
  log,
  defaults,
  provisionEnv,
  events,
}: ContainerServiceDeps) {
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

  /** Create and start `beacon-<handle>`; a failure removes what was created. Returns the container id. */
  async function provision(handle: string, owner: string, spec: ContainerSpec): Promise<string> {
    const end = metrics.provisionDuration.startTimer();
    let id: string | undefined;
    try {
      const env = { ...spec.env, ...(provisionEnv ? await provisionEnv(handle, owner) : {}) };
      id = await docker.create({
        name: containerName(handle),
        image: spec.image,
        ...(spec.command ? { command: spec.command } : {}),
        env,
        labels: { 'beacon.handle': handle, 'beacon.owner': owner },
        memoryBytes: spec.memoryMb * 1024 * 1024,
        nanoCpus: Math.round(spec.cpus * 1e9),
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

    async create(input: CreateContainerInput): Promise<ContainerView> {
      const existing = find(input.handle);
      if (existing && existing.state !== 'gone')
        throw new AppError('conflict', `handle ${input.handle} exists`);
      const spec = specFrom(input, defaults);
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
        emit('container.created', input.handle, { owner, image: spec.image });
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

    async start(handle: string) {
      require(handle);
      await counted('start', () => docker.start(containerName(handle)));
      setState(handle, 'running');
      emit('container.started', handle);
      return toView(require(handle));
    },

    async stop(handle: string) {
      require(handle);
      await counted('stop', () => docker.stop(containerName(handle)));
      setState(handle, 'stopped');
      emit('container.stopped', handle);
      return toView(require(handle));
    },

    async restart(handle: string) {
      require(handle);
      await counted('restart', () => docker.restart(containerName(handle)));
      setState(handle, 'running');
      emit('container.restarted', handle);
      return toView(require(handle));
    },

    async destroy(handle: string) {
      require(handle);
      await counted('destroy', async () => {
        try {
          await docker.remove(containerName(handle));
        } catch (err) {
          if (!(err instanceof AppError && err.code === 'not_found')) throw err;
        }
      });
      emit('container.destroyed', handle);
      db.delete(containers).where(eq(containers.handle, handle)).run();
      log.info({ event: 'container.destroyed', handle }, 'destroyed');
    },

    async logs(handle: string, options: LogOptions): Promise<LogLine[]> {
      require(handle);
      return docker.logs(containerName(handle), options);
    },

    /**
     * Make records agree with the engine: a record whose container was removed behind our back is
     * marked gone; a managed container without a record is adopted.
     */
    async reconcile() {
      const running = await docker.list();
      const byHandle = new Map(running.map((c) => [c.labels['beacon.handle'] ?? '', c]));
      let gone = 0;
      let adopted = 0;
      for (const row of db.select().from(containers).all()) {
        const actual = byHandle.get(row.handle);
        if (!actual) {
          if (row.state !== 'gone' && row.state !== 'creating') {
            setState(row.handle, 'gone');
            gone++;
          }
        } else if (row.state !== 'recycling') {
          setState(row.handle, recordState(actual.state), actual.id);
        }
        byHandle.delete(row.handle);
      }
      for (const [handle, c] of byHandle) {
        if (!handle) continue;
        const detail = await docker.inspect(c.id);
        const spec: ContainerSpec = {
          image: c.image,
          env: {},
          memoryMb: detail
            ? Math.round(detail.memoryBytes / 1024 / 1024) || defaults.memoryMb
            : defaults.memoryMb,
          cpus: detail?.nanoCpus ? detail.nanoCpus / 1e9 : defaults.cpus,
          // Adopted containers were not specified here: no TTL, and no assumption that they serve :7681.
          ttlSeconds: 0,
          health: 'none',
        };
        db.insert(containers)
          .values({
            handle,
            owner: c.labels['beacon.owner'] ?? handle,
            image: c.image,
            spec,
            state: recordState(c.state),
            containerId: c.id,
            createdAt: new Date(),
            expiresAt: null,
          })
          .run();
        adopted++;
      }
      log.info(
        { event: 'platform.reconciled', gone, adopted, containers: running.length },
        'reconciled with Docker',
      );
      return { gone, adopted };
    },
  };
}
