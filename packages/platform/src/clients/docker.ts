import { AppError } from '@beacon/core';
import Docker from 'dockerode';
import type { ContainerExit } from '../domain/exits';
import type { DockerStatsJson } from '../domain/stats';
import { containerConfig, publishedPorts } from './container-config';
import { demuxLogs, LineSplitter, type LogLine } from './engine-streams';
import { ensureNetwork } from './tenant-network';

export const MANAGED_LABEL = 'beacon.managed';
/** The labels the platform writes on every container it runs. */
export const LABELS = {
  handle: 'beacon.handle',
  owner: 'beacon.owner',
  pool: 'beacon.pool',
  /** BEACON_INSTANCE: several platforms may share one engine; each sees only its own containers. */
  instance: 'beacon.instance',
} as const;
/** Containers labelled before instances existed belong to the default one. */
export const DEFAULT_INSTANCE = 'default';

export interface ProvisionRequest {
  name: string;
  image: string;
  command?: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  memoryBytes: number;
  nanoCpus: number;
  /** Processes the container may run (a fork bomb stops there). */
  pidsLimit: number;
  /** Host paths bind-mounted into the container (`host:container:ro`), e.g. the secrets directory. */
  binds?: string[];
  /** Docker network to attach to. */
  network?: string;
  /** The image's filesystem read-only; /tmp (tmpfs) and `workdir` (an anonymous volume) writable. */
  readOnly?: { workdir: string };
  /** Capabilities added back after dropping all. */
  capAdd?: string[];
  /** Publish these container ports on this host address (each on a port the engine picks). */
  publish?: { on: string; ports: number[] };
}

export interface ManagedContainer {
  id: string;
  name: string;
  labels: Record<string, string>;
  image: string;
  /** Docker's state: created, running, paused, restarting, removing, exited, dead. */
  state: string;
}

export interface ContainerDetail extends ManagedContainer {
  ip?: string;
  /** Container port → the host address it is published on ("ip:port"). */
  published?: Record<number, string>;
  startedAt?: string;
  exit?: ContainerExit;
  memoryBytes: number;
  nanoCpus: number;
  health?: string;
  pid: number;
}

export interface LogOptions {
  /** Unix seconds. */
  since?: number;
  until?: number;
  tail?: number;
}

/** What the platform needs from a Docker engine. Only managed containers are ever returned or touched. */
export interface DockerClient {
  ping(): Promise<void>;
  create(request: ProvisionRequest): Promise<string>;
  start(id: string): Promise<void>;
  stop(id: string): Promise<void>;
  restart(id: string): Promise<void>;
  remove(id: string): Promise<void>;
  rename(id: string, name: string): Promise<void>;
  /** The tenants' network: made once (bridge, traffic between its containers off), kept. */
  ensureTenantNetwork(name: string): Promise<void>;
  list(): Promise<ManagedContainer[]>;
  /** undefined when there is no such managed container. */
  inspect(idOrName: string): Promise<ContainerDetail | undefined>;
  logs(id: string, options: LogOptions): Promise<LogLine[]>;
  stats(id: string, signal: AbortSignal): Promise<DockerStatsJson>;
  /** The engine's samples of a container as it takes them (about one a second), until `signal` aborts. */
  statsStream(id: string, signal: AbortSignal): AsyncGenerator<DockerStatsJson>;
  /** The engine's event stream (NDJSON) for managed containers; ends when `signal` aborts. */
  events(signal: AbortSignal): Promise<NodeJS.ReadableStream>;
  /** The user an image runs as (`Config.User`: "", "1000", "1000:1000" or a name). */
  /** The image's user ('' for root) and working directory ('' for /). */
  imageConfig(image: string): Promise<{ user: string; workdir: string }>;
}

type DockerodeError = Error & { statusCode?: number; code?: string };

/** Maps engine failures to the one error shape: unreachable → 503, never a crash. */
export function dockerError(err: unknown, what: string): AppError {
  const e = err as DockerodeError;
  if (e.statusCode === 404) return new AppError('not_found', `${what}: no such container`);
  if (e.statusCode === 409) return new AppError('conflict', `${what}: ${e.message}`);
  if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'EACCES' || e.code === 'ECONNRESET') {
    return new AppError('unavailable', `Docker engine unreachable (${e.code}); is dockerd running?`);
  }
  if (e.statusCode && e.statusCode < 500) return new AppError('bad_request', `${what}: ${e.message}`);
  return new AppError('unavailable', `Docker engine error during ${what}`);
}

const noSuchImage = (image: string) =>
  new AppError('bad_request', `image ${image} is not on the Docker engine: build or pull it first`);

const unlessNotModified = (err: DockerodeError) => {
  if (err.statusCode !== 304) throw err;
};

/** Whether labels (or event attributes) mark a container this instance manages. */
export const belongsTo = (labels: Record<string, string> | undefined, instance: string) =>
  labels?.[MANAGED_LABEL] === 'true' && (labels[LABELS.instance] ?? DEFAULT_INSTANCE) === instance;

/** Told of every engine call: its name, ok | refused (the engine said no: no such image, 404) | error. */
export type OperationObserver = (
  operation: string,
  status: 'ok' | 'refused' | 'error',
  seconds: number,
) => void;

export function createDockerClient(
  docker = new Docker(),
  instance = DEFAULT_INSTANCE,
  observe: OperationObserver = () => {},
): DockerClient {
  const isManaged = (labels: Record<string, string> | undefined) => belongsTo(labels, instance);
  const managed = async (idOrName: string) => {
    const detail = await inspect(idOrName);
    if (!detail) throw new AppError('not_found', `no managed container ${idOrName}`);
    return docker.getContainer(detail.id);
  };

  async function inspect(idOrName: string): Promise<ContainerDetail | undefined> {
    try {
      const info = await docker.getContainer(idOrName).inspect();
      if (!isManaged(info.Config.Labels)) return undefined;
      const networks = Object.values(info.NetworkSettings.Networks ?? {});
      const ip = networks.find((n) => n.IPAddress)?.IPAddress || undefined;
      const published = publishedPorts(info.NetworkSettings.Ports);
      return {
        id: info.Id,
        name: info.Name.replace(/^\//, ''),
        labels: info.Config.Labels,
        image: info.Config.Image,
        state: info.State.Status,
        ...(ip ? { ip } : {}),
        ...(published ? { published } : {}),
        ...(info.State.StartedAt ? { startedAt: info.State.StartedAt } : {}),
        ...(info.State.Health?.Status ? { health: info.State.Health.Status } : {}),
        ...(info.State.Status === 'exited' || info.State.Status === 'dead'
          ? {
              exit: {
                code: info.State.ExitCode,
                oomKilled: info.State.OOMKilled,
                finishedAt: info.State.FinishedAt,
                error: info.State.Error ?? '',
              },
            }
          : {}),
        memoryBytes: info.HostConfig.Memory ?? 0,
        nanoCpus: info.HostConfig.NanoCpus ?? 0,
        pid: info.State.Pid,
      };
    } catch (err) {
      if ((err as DockerodeError).statusCode === 404) return undefined;
      throw dockerError(err, 'inspect');
    }
  }

  const wrap =
    <A extends unknown[], R>(what: string, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const start = performance.now();
      const took = () => (performance.now() - start) / 1000;
      try {
        const result = await fn(...args);
        observe(what, 'ok', took());
        return result;
      } catch (err) {
        const error = err instanceof AppError ? err : dockerError(err, what);
        observe(what, error.status < 500 ? 'refused' : 'error', took());
        throw error;
      }
    };

  return {
    ping: wrap('ping', async () => {
      await docker.ping();
    }),
    create: wrap('create', async (req: ProvisionRequest) => {
      const container = await docker
        .createContainer({
          name: req.name,
          Image: req.image,
          ...(req.command ? { Cmd: req.command } : {}),
          Env: Object.entries(req.env).map(([k, v]) => `${k}=${v}`),
          Labels: { ...req.labels, [MANAGED_LABEL]: 'true', [LABELS.instance]: instance },
          ...containerConfig(req),
        })
        .catch((err: DockerodeError) => {
          if (err.statusCode === 404 && /image/i.test(err.message)) throw noSuchImage(req.image);
          if (err.statusCode === 404 && /network/i.test(err.message))
            throw new AppError('bad_request', `network ${req.network} does not exist on the Docker engine`);
          throw err;
        });
      return container.id;
    }),
    // 304: already in that state, which is what was asked.
    start: wrap('start', async (id: string) => {
      await (await managed(id)).start().catch(unlessNotModified);
    }),
    stop: wrap('stop', async (id: string) => {
      await (await managed(id)).stop({ t: 5 }).catch(unlessNotModified);
    }),
    restart: wrap('restart', async (id: string) => {
      await (await managed(id)).restart({ t: 5 });
    }),
    remove: wrap('remove', async (id: string) => {
      await (await managed(id)).remove({ force: true, v: true });
    }),
    ensureTenantNetwork: wrap('network', (name: string) => ensureNetwork(docker, name, MANAGED_LABEL)),
    rename: wrap('rename', async (id: string, name: string) => {
      await (await managed(id)).rename({ name });
    }),
    imageConfig: wrap('image_inspect', async (image: string) => {
      const info = await docker
        .getImage(image)
        .inspect()
        .catch((err: DockerodeError) => {
          if (err.statusCode === 404) throw noSuchImage(image);
          throw err;
        });
      return { user: info.Config?.User ?? '', workdir: info.Config?.WorkingDir ?? '' };
    }),
    list: wrap('list', async () => {
      const all = await docker.listContainers({ all: true, filters: { label: [`${MANAGED_LABEL}=true`] } });
      return all
        .filter((c) => isManaged(c.Labels))
        .map((c) => ({
          id: c.Id,
          name: (c.Names[0] ?? '').replace(/^\//, ''),
          labels: c.Labels,
          image: c.Image,
          state: c.State,
        }));
    }),
    inspect: wrap('inspect', inspect),
    logs: wrap('logs', async (id: string, { since, until, tail }: LogOptions) => {
      const container = await managed(id);
      const buffer = (await container.logs({
        stdout: true,
        stderr: true,
        timestamps: true,
        follow: false,
        ...(since ? { since } : {}),
        ...(until ? { until } : {}),
        ...(tail ? { tail } : {}),
      })) as unknown as Buffer;
      return demuxLogs(Buffer.from(buffer));
    }),
    events: wrap('events', async (signal: AbortSignal) => {
      const options = {
        filters: { type: ['container' as const], label: [`${MANAGED_LABEL}=true`] },
        abortSignal: signal,
      };
      return (await docker.getEvents(options)) as NodeJS.ReadableStream;
    }),
    async *statsStream(id: string, signal: AbortSignal): AsyncGenerator<DockerStatsJson> {
      const options = { stream: true, abortSignal: signal } as { stream: true };
      const stream = await wrap('stats_stream', async () => docker.getContainer(id).stats(options))();
      const lines = new LineSplitter();
      for await (const chunk of stream as AsyncIterable<Buffer | string>)
        for (const line of lines.push(chunk.toString())) yield JSON.parse(line) as DockerStatsJson;
    },
    // One-shot: the engine answers from one sample instead of waiting a second for a second one.
    stats: wrap('stats', async (id: string, signal: AbortSignal) => {
      const options = { stream: false, 'one-shot': true, abortSignal: signal } as { stream: false };
      return (await docker.getContainer(id).stats(options)) as unknown as DockerStatsJson;
    }),
  };
}
