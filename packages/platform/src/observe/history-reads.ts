import { and, asc, eq, gte, lt, sql } from 'drizzle-orm';
import type { PlatformDb } from '../db';
import { type MinuteRow, sampleMinutes, samples } from '../db/schema/samples';
import { combineMinutes } from '../domain/history';

/**
 * What the history answers: raw samples while they are kept (`rawMs`), minute aggregates combined into steps,
 * and per-container summaries over a range.
 */
export function createHistoryReads(db: PlatformDb, rawMs: number) {
  return {
    /** One container's raw samples over a range. */
    raw(handle: string, from: number, to: number) {
      return db
        .select()
        .from(samples)
        .where(and(eq(samples.handle, handle), gte(samples.at, from), lt(samples.at, to)))
        .orderBy(asc(samples.at))
        .all();
    },

    /** Minute aggregates of one container, combined into `stepMs` buckets. */
    minutes(handle: string, from: number, to: number, stepMs: number): MinuteRow[] {
      const rows = db
        .select()
        .from(sampleMinutes)
        .where(
          and(
            eq(sampleMinutes.handle, handle),
            gte(sampleMinutes.minute, from),
            lt(sampleMinutes.minute, to),
          ),
        )
        .orderBy(asc(sampleMinutes.minute))
        .all();
      return combineMinutes(rows, stepMs);
    },

    /** Whether anything is kept for the handle (a deleted container's history stays for its retention). */
    has(handle: string): boolean {
      const one = (table: typeof samples | typeof sampleMinutes) =>
        db.select({ one: sql`1` }).from(table).where(eq(table.handle, handle)).limit(1).get();
      return one(samples) !== undefined || one(sampleMinutes) !== undefined;
    },

    /** Per container over a range: from raw samples when they still cover it, else from minute aggregates. */
    summary(from: number, to: number, now = Date.now()) {
      if (from >= now - rawMs)
        return db
          .select({
            handle: samples.handle,
            samples: sql<number>`count(*)`,
            cpuPercentAvg: sql<number | null>`avg(${samples.cpu})`,
            cpuPercentMax: sql<number | null>`max(${samples.cpu})`,
            memoryBytesAvg: sql<number>`avg(${samples.mem})`,
            memoryBytesMax: sql<number>`max(${samples.mem})`,
            rxBytesPerSecAvg: sql<number | null>`avg(${samples.rx})`,
            txBytesPerSecAvg: sql<number | null>`avg(${samples.tx})`,
            lastAt: sql<number>`max(${samples.at})`,
          })
          .from(samples)
          .where(and(gte(samples.at, from), lt(samples.at, to)))
          .groupBy(samples.handle)
          .all();
      const m = sampleMinutes;
      return db
        .select({
          handle: m.handle,
          samples: sql<number>`sum(${m.n})`,
          cpuPercentAvg: sql<
            number | null
          >`sum(${m.cpuAvg} * ${m.n}) / sum(case when ${m.cpuAvg} is null then null else ${m.n} end)`,
          cpuPercentMax: sql<number | null>`max(${m.cpuMax})`,
          memoryBytesAvg: sql<number>`sum(${m.memAvg} * ${m.n}) / sum(${m.n})`,
          memoryBytesMax: sql<number>`max(${m.memMax})`,
          rxBytesPerSecAvg: sql<
            number | null
          >`sum(${m.rxAvg} * ${m.n}) / sum(case when ${m.rxAvg} is null then null else ${m.n} end)`,
          txBytesPerSecAvg: sql<
            number | null
          >`sum(${m.txAvg} * ${m.n}) / sum(case when ${m.txAvg} is null then null else ${m.n} end)`,
          lastAt: sql<number>`max(${m.minute})`,
        })
        .from(m)
        .where(and(gte(m.minute, from), lt(m.minute, to)))
        .groupBy(m.handle)
        .all();
    },
  };
}
