import { AppError } from '@beacon/core';
import { eq } from 'drizzle-orm';
import type { PlatformDb } from '../db';
import { type ContainerRow, containers, type RecordState } from '../db/schema/containers';
import { poolOf } from '../domain/spec';
import type { PlatformMetrics } from '../metrics';
import type { PlatformEvents } from './events';

/**
 * The containers' records (desired and observed state), the gauges that follow them, and the events that
 * tell of them: what the commands and the exit bookkeeping both read and write.
 */
export function createRecords(
  db: PlatformDb,
  metrics: PlatformMetrics,
  events?: Pick<PlatformEvents, 'emit'>,
) {
  const find = (handle: string) => db.select().from(containers).where(eq(containers.handle, handle)).get();
  const update = (handle: string, values: Partial<ContainerRow>) =>
    db.update(containers).set(values).where(eq(containers.handle, handle)).run();
  const publishDesired = (row: Pick<ContainerRow, 'handle' | 'desired'>) =>
    metrics.desiredRunning.set({ handle: row.handle }, row.desired === 'running' ? 1 : 0);

  return {
    find,
    update,
    list: () => db.select().from(containers).all(),
    insert: (row: typeof containers.$inferInsert) => db.insert(containers).values(row).run(),
    remove: (handle: string) => db.delete(containers).where(eq(containers.handle, handle)).run(),
    setState: (handle: string, state: RecordState, containerId?: string | null) =>
      update(handle, { state, ...(containerId !== undefined ? { containerId } : {}) }),

    existing(handle: string): ContainerRow {
      const row = find(handle);
      if (!row || row.state === 'gone') throw new AppError('not_found', `no container with handle ${handle}`);
      return row;
    },

    publishDesired,
    /** The operator's wish (and whatever else changed with it), with its gauge. */
    setDesired(handle: string, desired: 'running' | 'stopped', values: Partial<ContainerRow> = {}) {
      update(handle, { ...values, desired });
      publishDesired({ handle, desired });
    },
    forgetSeries(handle: string) {
      metrics.desiredRunning.remove({ handle });
      metrics.restarts.remove({ handle });
      metrics.oomKills.remove({ handle });
    },

    emit: (type: string, handle: string, detail?: Record<string, unknown>) =>
      events?.emit(type, handle, find(handle)?.containerId ?? '', detail),

    /** An engine operation on the handle's container, counted by outcome and pool. */
    async counted<T>(operation: string, handle: string, fn: () => Promise<T>): Promise<T> {
      const pool = poolOf(find(handle));
      try {
        const result = await fn();
        metrics.operations.inc({ operation, status: 'ok', pool });
        return result;
      } catch (err) {
        metrics.operations.inc({ operation, status: 'error', pool });
        throw err;
      }
    },
  };
}

export type Records = ReturnType<typeof createRecords>;
