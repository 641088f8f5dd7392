import type { Logger } from '@beacon/core';
import type { DockerClient } from '../clients/docker';
import type { EngineStream } from './engine-events';
import type { Records } from './records';

/**
 * A stop is the operator's only if the engine outlives it by this long: a shutting-down engine stops its
 * containers, then its event stream ends (Docker waits up to 15 s for containers by default).
 */
export const STOP_GRACE_MS = 20_000;

/**
 * Stops the engine reports that the platform did not ask for. `docker stop` behind the platform's back is the
 * operator's word (the container stays stopped, as Docker's unless-stopped); an engine shutting down stops
 * every container too, and that is not. Which one it was is known once the engine outlived the stop (its event
 * stream unbroken, its ping answered) or did not (then the container, meant to run, is started again once the
 * engine is back, as after an exit).
 */
export function createEngineStops({
  docker,
  records,
  log,
  exited,
  graceMs,
}: {
  docker: Pick<DockerClient, 'ping'>;
  records: Records;
  log: Logger;
  exited: (handle: string, id: string) => Promise<void>;
  graceMs: number;
}) {
  /** Handles whose stop's meaning is not known yet: nothing restarts them meanwhile. */
  const stopping = new Set<string>();

  async function settle(handle: string, id: string, stream: EngineStream | undefined) {
    stopping.delete(handle);
    const row = records.find(handle);
    if (!row || row.containerId !== id || row.desired !== 'running' || row.state !== 'stopped') return;
    const answers = await docker.ping().then(
      () => true,
      () => false,
    );
    if ((stream?.unbroken() ?? true) && answers) {
      records.setDesired(handle, 'stopped', { state: 'stopped' });
      log.info(
        { event: 'container.stopped_outside', handle },
        'stopped behind the platform: it stays stopped',
      );
      return;
    }
    log.warn({ event: 'container.stopped_by_engine', handle }, 'the engine stopped it while shutting down');
    await exited(handle, id).catch(() => {});
  }

  return {
    stopped(handle: string, id: string, stream: EngineStream | undefined) {
      stopping.add(handle);
      setTimeout(() => void settle(handle, id, stream), graceMs).unref?.();
    },
    pending: (handle: string) => stopping.has(handle),
  };
}
