import type { Logger } from '@beacon/core';
import type { ContainerDetail, DockerClient, LogOptions } from '../clients/docker';
import type { LogLine } from '../clients/engine-streams';
import type { Secrets } from '../clients/secrets';
import type { PlatformDb } from '../db';
import { toView } from '../domain/container-view';
import type { BackoffPolicy } from '../domain/restart-policy';
import { containerName, type SpecDefaults } from '../domain/spec';
import type { PlatformMetrics } from '../metrics';
import type { PlatformEvents } from './events';
import { createExits } from './exits';
import { createMaker, removeIfThere } from './make';
import { createProvisioner } from './provision';
import { createRecords } from './records';
import type { Releases } from './releases';

export interface ContainerServiceDeps {
  docker: DockerClient;
  db: PlatformDb;
  metrics: PlatformMetrics;
  log: Logger;
  defaults: SpecDefaults;
  events?: Pick<PlatformEvents, 'emit'>;
  secrets?: Pick<Secrets, 'mount'>;
  releases?: Pick<Releases, 'schedule' | 'cancel'>;
  /** Non-secret env for every container (where NATS and the proxy are). */
  env?: (handle: string) => Record<string, string>;
  /** A fresh proxy key for the container, delivered as the file PROXY_KEY_FILE (needs `secrets`). */
  mintKey?: (handle: string, owner: string) => Promise<string>;
  /** The container's NATS credentials, delivered as a file (needs `secrets`). */
  natsCreds?: (handle: string) => Promise<string>;
  restartPolicy?: BackoffPolicy;
  /** How long a create waits for the container's health check before answering 504. */
  readyTimeoutMs?: number;
  /** How long a stop behind the platform's back waits to be sure the engine outlived it. */
  stopGraceMs?: number | undefined;
}

export type ContainerService = ReturnType<typeof createContainerService>;

/** The operator's commands on containers: create, start, stop, restart, destroy, recycle, and what they read. */
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
  natsCreds,
  restartPolicy = { initialMs: 10_000, maxMs: 300_000 },
  readyTimeoutMs = 60_000,
  stopGraceMs,
}: ContainerServiceDeps) {
  const records = createRecords(db, metrics, events);
  const exits = createExits({ docker, records, metrics, log, releases, restartPolicy, stopGraceMs });
  const { existing, counted } = records;
  const provisioner = createProvisioner({
    docker,
    metrics,
    log,
    defaults,
    markOwn: exits.markOwn,
    ...(secrets ? { secrets } : {}),
    ...(env ? { env } : {}),
    ...(mintKey ? { mintKey } : {}),
    ...(natsCreds ? { natsCreds } : {}),
  });
  const maker = createMaker({
    docker,
    records,
    exits,
    provisioner,
    metrics,
    log,
    defaults,
    releases,
    readyTimeoutMs,
  });

  return {
    find: records.find,
    setState: records.setState,
    list: records.list,
    get: existing,
    /** When the handle's next restart is due, if one is scheduled (ms since the epoch). */
    restartDueAt: (handle: string) => exits.restartDueAt(handle),

    create: maker.create,
    recycle: maker.recycle,
    /** Recycles since `sinceMs` (kept in memory; the counter has the full history). */
    recycledSince: maker.recycledSince,

    async inspect(handle: string): Promise<ContainerDetail | undefined> {
      existing(handle);
      return docker.inspect(containerName(handle));
    },

    async start(handle: string) {
      const row = existing(handle);
      await counted('start', handle, () => docker.start(containerName(handle)));
      records.setDesired(handle, 'running', { state: 'running' });
      if (row.containerId) exits.clearOwn(row.containerId);
      return toView(existing(handle));
    },

    /** Stays stopped (no health check, restart or recycle, not "down") until started. */
    async stop(handle: string) {
      const row = existing(handle);
      records.setDesired(handle, 'stopped');
      exits.cancelRestart(handle);
      exits.markOwn(row.containerId);
      await counted('stop', handle, () => docker.stop(containerName(handle)));
      records.setState(handle, 'stopped');
      return toView(existing(handle));
    },

    async restart(handle: string) {
      const row = existing(handle);
      exits.markOwn(row.containerId);
      await counted('restart', handle, () => docker.restart(containerName(handle)));
      records.setDesired(handle, 'running', { state: 'running' });
      // The engine's events for the restart arrive just after it returns.
      exits.markOwn(row.containerId, 2000);
      return toView(existing(handle));
    },

    async destroy(handle: string) {
      const row = existing(handle);
      exits.markOwn(row.containerId);
      exits.cancelRestart(handle);
      await counted('destroy', handle, () => removeIfThere(docker, handle));
      records.remove(handle);
      await exits.vanished(handle);
      log.info({ event: 'container.destroyed', handle }, 'destroyed');
    },

    applyEngineAction: exits.applyEngineAction,
    noticeExited: exits.noticeExited,

    async logs(handle: string, options: LogOptions): Promise<LogLine[]> {
      existing(handle);
      return docker.logs(containerName(handle), options);
    },

    /** Records whose container vanished get released; called by reconcile. */
    vanished: exits.vanished,
    publishDesired: records.publishDesired,
    /** At shutdown: no restart fires any more. */
    close: exits.close,
  };
}
