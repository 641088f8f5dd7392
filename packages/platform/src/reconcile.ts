import type { Logger } from '@beacon/core';
import type { DockerClient } from './clients/docker';
import type { RecordState } from './containers';
import type { PlatformDb } from './db';
import { containers } from './db/schema/containers';
import { type ContainerSpec, recordState, type SpecDefaults } from './domain/spec';

export interface ReconcileDeps {
  docker: DockerClient;
  db: PlatformDb;
  log: Logger;
  defaults: SpecDefaults;
  setState: (handle: string, state: RecordState, containerId?: string | null) => unknown;
}

/**
 * Make records agree with the engine: a record whose container was removed behind our back is
 * marked gone; a managed container without a record is adopted.
 */
export async function reconcile({ docker, db, log, defaults, setState }: ReconcileDeps) {
  const running = await docker.list();
  const byHandle = new Map(running.map((c) => [c.labels['beacon.handle'] ?? '', c]));
  let gone = 0;
  let adopted = 0;
  for (const row of db.select().from(containers).all()) {
    const actual = byHandle.get(row.handle);
    if (!actual) {
      if (row.state === 'running' || row.state === 'stopped') {
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
}
