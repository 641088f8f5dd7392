import type { Logger } from '@beacon/core';
import type { DockerClient } from '../clients/docker';
import { lastExitOf, Marks } from '../domain/exits';
import type { BackoffPolicy } from '../domain/restart-policy';
import { containerName } from '../domain/spec';
import type { PlatformMetrics } from '../metrics';
import type { EngineStream } from './engine-events';
import { createEngineStops, STOP_GRACE_MS } from './engine-stops';
import type { Records } from './records';
import type { Releases } from './releases';
import { createRestarter } from './restarter';

export interface ExitDeps {
  docker: DockerClient;
  records: Records;
  metrics: PlatformMetrics;
  log: Logger;
  releases?: Pick<Releases, 'schedule' | 'cancel'> | undefined;
  restartPolicy: BackoffPolicy;
  /** How long a stop waits to be sure the engine outlived it (tests shorten it). */
  stopGraceMs?: number | undefined;
}

/** The platform's own stops and removals: the engine's `die` for them is not a death. */
const OWN_ACTION_MS = 60_000;
/** Engine `oom` events of one container this close together are one incident. */
const OOM_INCIDENT_MS = 30_000;
/** One run of a container: its id and when it started (a restart keeps the id). */
const runOf = (id: string, startedAt: string | undefined) => `${id}@${startedAt ?? ''}`;

/**
 * What the engine says happened to a container the platform did not ask for: an exit (remembered, reported
 * once, restarted with backoff when it is meant to run), an OOM kill, a stop or removal behind its back.
 */
export function createExits({
  docker,
  records,
  metrics,
  log,
  releases,
  restartPolicy,
  stopGraceMs = STOP_GRACE_MS,
}: ExitDeps) {
  /** Container ids the platform itself is stopping or removing, until when. */
  const ownActions = new Marks();
  const oomIncidents = new Marks();

  const restarter = createRestarter({
    policy: restartPolicy,
    log,
    recall: (handle) => {
      const step = records.find(handle)?.restartAttempt ?? -1;
      return step < 0 ? undefined : step;
    },
    remember: (handle, attempt) => {
      if (records.find(handle)) records.update(handle, { restartAttempt: attempt ?? -1 });
    },
    restart: async (handle) => {
      const row = records.find(handle);
      if (row?.desired !== 'running' || row.state === 'gone') return;
      await records.counted('restart', handle, () => docker.start(containerName(handle)));
      const restarts = row.restarts + 1;
      records.update(handle, { state: 'running', restarts });
      metrics.restarts.inc({ handle });
      log.warn(
        { event: 'container.restarted', handle, restarts, lastExit: row.lastExit },
        'restarted after it exited',
      );
      records.emit('container.restarted', handle, { restarts, lastExit: row.lastExit });
    },
  });

  /** The container exited on its own: remember how, report it once, restart it if it is meant to run. */
  async function exited(handle: string, id: string) {
    const row = records.find(handle);
    if (!row || row.state === 'creating' || row.state === 'recycling' || row.state === 'gone') return;
    const detail = await docker.inspect(id);
    // The engine's OOMKilled flag races its own exit (Docker 20.10 may deliver the exit first and say false):
    // an `oom` event seen for this container settles it.
    const run = runOf(id, detail?.startedAt);
    const exit = detail?.exit && {
      ...detail.exit,
      oomKilled: detail.exit.oomKilled || oomIncidents.has(run),
    };
    const { lastExit, upMs } = lastExitOf(exit, detail?.startedAt);
    records.update(handle, { state: 'stopped', lastExit });
    if (lastExit.oomKilled) await oomIncident(handle, id, lastExit.code, detail?.startedAt);
    else records.emit('container.died', handle, { exitCode: lastExit.code });
    if (row.desired === 'running') restarter.exited(handle, upMs);
  }

  /**
   * One OOM incident, however many `oom` events and exits the engine reports for it. An incident is one run of
   * the container (its start): killed again after a restart is another, however soon.
   */
  async function oomIncident(handle: string, id: string, exitCode?: number, startedAt?: string) {
    const started = startedAt ?? (await docker.inspect(id).catch(() => undefined))?.startedAt;
    if (!oomIncidents.first(runOf(id, started), OOM_INCIDENT_MS)) return;
    const row = records.find(handle);
    // A process of the container was killed; if the container itself exits, exited() says so instead,
    // and an exit already recorded without the flag (the engine told the exit first) is corrected.
    if (exitCode === undefined && row?.containerId === id)
      records.update(handle, {
        lastExit:
          row.state === 'stopped' && row.lastExit
            ? { ...row.lastExit, oomKilled: true, reason: 'oom' }
            : {
                code: 137,
                oomKilled: true,
                at: new Date().toISOString(),
                reason: 'oom: a process was killed',
              },
      });
    metrics.oomKills.inc({ handle });
    records.emit('container.oom', handle, exitCode === undefined ? undefined : { exitCode });
  }

  /** The container vanished: its record goes, and what it held is released. */
  async function vanished(handle: string) {
    restarter.cancel(handle);
    records.forgetSeries(handle);
    await releases?.schedule(handle);
  }

  const stops = createEngineStops({ docker, records, log, exited, graceMs: stopGraceMs });

  return {
    exited,
    vanished,
    /** The platform's own stop or removal of this container: its engine events are not a death. */
    markOwn: (id: string | null | undefined, ms = OWN_ACTION_MS) => ownActions.mark(id, ms),
    clearOwn: (id: string) => ownActions.clear(id),
    cancelRestart: (handle: string) => restarter.cancel(handle),
    restartDueAt: (handle: string) => restarter.dueAt(handle),

    /**
     * Just provisioned (or recycled): an exit before the record said `running` was an event about a container
     * it did not know yet, so it is looked for once now (an image that exits or is OOM-killed at once).
     */
    async checkStarted(handle: string, id: string) {
      const detail = await docker.inspect(id).catch(() => undefined);
      if (detail && detail.state !== 'running' && records.find(handle)?.containerId === id)
        await exited(handle, id);
    },

    /** The engine reported an action on one of this instance's containers. */
    async applyEngineAction(
      handle: string,
      action: string,
      id: string,
      stream?: EngineStream,
    ): Promise<void> {
      if (action === 'oom') return oomIncident(handle, id);
      const row = records.find(handle);
      // Actions of the platform's own stops and removals, or of a container no longer the record's.
      if (!row || row.containerId !== id || ownActions.has(id)) return;
      if (row.state === 'creating' || row.state === 'recycling') return;
      if (action === 'die') return exited(handle, id);
      if (action === 'start' && row.state !== 'running') records.setState(handle, 'running');
      if (action === 'stop') {
        // `docker stop` behind the platform's back: the operator wants it stopped, as Docker's unless-stopped.
        // But an engine shutting down stops every container too: only a stop the engine outlives counts.
        restarter.cancel(handle);
        records.setState(handle, 'stopped');
        stops.stopped(handle, id, stream);
      }
      if (action === 'destroy') {
        records.setState(handle, 'gone', null);
        await vanished(handle);
      }
    },

    /** A health cycle found a container meant to run not running (an exit whose event was missed). */
    async noticeExited(handle: string) {
      const row = records.find(handle);
      if (
        !row?.containerId ||
        row.desired !== 'running' ||
        restarter.isPending(handle) ||
        stops.pending(handle)
      )
        return;
      await exited(handle, row.containerId);
    },

    /** At shutdown: no restart fires any more. */
    close: () => restarter.stop(),
  };
}
