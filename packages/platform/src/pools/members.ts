import { eq } from 'drizzle-orm';
import type { PlatformDb } from '../db';
import { type PoolMemberRow, poolMembers } from '../db/schema/pool-members';
import type { PlatformMetrics } from '../metrics';
import type { PoolConfig } from './domain';

/** Who a pooled container's AI calls bill: the tenant holding it (or about to), else nobody of a pool. */
export const billTo = (db: PlatformDb) => (handle: string) =>
  db.select().from(poolMembers).where(eq(poolMembers.handle, handle)).get()?.tenant ?? undefined;

/** The pools' membership rows (who holds which container) and the gauges that count them. */
export function createMembers(db: PlatformDb, metrics: PlatformMetrics) {
  const of = (pool: string) => db.select().from(poolMembers).where(eq(poolMembers.pool, pool)).all();

  function summary(config: PoolConfig) {
    const members = of(config.name);
    const count = (status: string) => members.filter((m) => m.status === status).length;
    return {
      name: config.name,
      min: config.min,
      max: config.max,
      size: members.length,
      available: count('available'),
      borrowed: count('borrowed'),
      pending: count('pending'),
      members,
    };
  }

  return {
    of,
    summary,
    add: (row: Omit<PoolMemberRow, 'updatedAt'>) =>
      db
        .insert(poolMembers)
        .values({ ...row, updatedAt: new Date() })
        .run(),
    update: (handle: string, values: Partial<PoolMemberRow>) =>
      db
        .update(poolMembers)
        .set({ ...values, updatedAt: new Date() })
        .where(eq(poolMembers.handle, handle))
        .run(),
    forget: (handle: string) => db.delete(poolMembers).where(eq(poolMembers.handle, handle)).run(),

    publish(config: PoolConfig) {
      const s = summary(config);
      const labels = { pool: config.name };
      metrics.pool.size.set(labels, s.size);
      metrics.pool.available.set(labels, s.available);
      metrics.pool.borrowed.set(labels, s.borrowed);
      metrics.pool.pending.set(labels, s.pending);
      metrics.pool.minSize.set(labels, s.min);
      metrics.pool.maxSize.set(labels, s.max);
      metrics.pool.targetSize.set(labels, Math.min(s.max, s.borrowed + s.min));
      const reserved = s.members.filter((m) => m.status === 'available' && m.lastTenant).length;
      metrics.pool.affinityReservations.set(labels, reserved);
    },
  };
}

export type Members = ReturnType<typeof createMembers>;
