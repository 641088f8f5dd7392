import type { Logger } from '@beacon/core';
import { type DockerClient, LABELS } from '../clients/docker';
import type { PlatformDb } from '../db';
import { containers } from '../db/schema/containers';
import { type ContainerSpec, recordState, type SpecDefaults } from '../domain/spec';
import type { ContainerService } from './containers';

export interface ReconcileDeps {
  docker: DockerClient;
  db: PlatformDb;
  log: Logger;
  defaults: SpecDefaults;
  containers: Pick<ContainerService, 'setState' | 'vanished' | 'publishDesired'>;
  /** Handles with secret files on the tmpfs: those without a container are released. */
  secretHandles?: () => Promise<string[]>;
}

/**
 * Make records agree with this instance's containers on the engine: a record whose container was
 * removed behind our back is marked gone and released; a managed container without a record is
 * adopted. `atStart`: nothing is in flight, so records left creating or recycling by a crash count too.
 */
export async function reconcile(
  { docker, db, log, defaults, containers: service, secretHandles }: ReconcileDeps,
  { atStart = false }: { atStart?: boolean } = {},
) {
  const running = await docker.list();
  const byHandle = new Map(running.map((c) => [c.labels[LABELS.handle] ?? '', c]));
  const gone: string[] = [];
  let adopted = 0;
  const rows = db.select().from(containers).all();
  for (const row of rows) {
    const actual = byHandle.get(row.handle);
    byHandle.delete(row.handle);
    const inFlight = row.state === 'creating' || row.state === 'recycling';
    if (row.state === 'gone' || (inFlight && !atStart)) continue;
    if (!actual) {
      service.setState(row.handle, 'gone', null);
      gone.push(row.handle);
    } else {
      service.setState(row.handle, recordState(actual.state), actual.id);
      service.publishDesired(row);
    }
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
    const row = {
      handle,
      owner: c.labels[LABELS.owner] ?? handle,
      image: c.image,
      spec,
      state: recordState(c.state),
      desired: 'running',
      containerId: c.id,
      createdAt: new Date(),
      expiresAt: null,
    };
    db.insert(containers).values(row).run();
    service.publishDesired(row);
    adopted++;
  }
  // Secret files with no live record behind them: a provision or removal that a crash cut short.
  if (atStart && secretHandles) {
    const live = new Set(rows.filter((r) => r.state !== 'gone').map((r) => r.handle));
    for (const handle of await secretHandles())
      if (!live.has(handle) && !gone.includes(handle)) gone.push(handle);
  }
  for (const handle of gone) await service.vanished(handle);
  log.info(
    { event: 'platform.reconciled', gone: gone.length, adopted, containers: running.length },
    'reconciled with Docker',
  );
  return { gone: gone.length, adopted };
}
