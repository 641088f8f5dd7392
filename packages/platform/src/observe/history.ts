import type { Logger } from '@beacon/core';
import { and, asc, eq, getTableColumns, gte, inArray, lt, max, sql } from 'drizzle-orm';
import type { PlatformDb } from '../db';
import { type SampleRow, sampleMinutes, samples } from '../db/schema/samples';
import { aggregateMinutes, type NetworkReading, retentionCutoffs, toSample } from '../domain/history';
import type { ContainerStats } from '../domain/stats';
import { createHistoryReads } from './history-reads';

const MINUTE = 60_000;
/** An aggregate written again (a minute closed before a restart and again after) takes the new values. */
const REWRITE = Object.fromEntries(
  Object.entries(getTableColumns(sampleMinutes)).map(([key, column]) => [
    key,
    sql.raw(`excluded.${column.name}`),
  ]),
);
const minuteOf = (at: number) => Math.floor(at / MINUTE) * MINUTE;

export interface HistoryOptions {
  db: PlatformDb;
  log: Logger;
  /** How long raw samples are kept (BEACON_HISTORY_RAW_HOURS). */
  rawMs: number;
  /** How long one-minute aggregates are kept (BEACON_HISTORY_DAYS). */
  aggregateMs: number;
  /** Pruning runs this often (a scan of the tables; the minute aggregates are written as samples come). */
  pruneEveryMs?: number;
}

/**
 * Per-container resource history in the platform's database: every stats cycle's samples (one insert per
 * cycle), one-minute aggregates written once a container's minute is over, and pruning to the retention.
 */
export function createHistory({ db, log, rawMs, aggregateMs, pruneEveryMs = 600_000 }: HistoryOptions) {
  const network = new Map<string, NetworkReading>();
  /** Per handle: the minute of its latest raw samples, not yet aggregated. */
  const open = new Map<string, number>();
  let timer: Timer | undefined;

  /** (Re)write the minute aggregates of these containers from their raw samples: one read, one write. */
  function close(handles: string[], minute: number) {
    if (handles.length === 0) return;
    const raw = db
      .select()
      .from(samples)
      .where(and(inArray(samples.handle, handles), gte(samples.at, minute), lt(samples.at, minute + MINUTE)))
      .orderBy(asc(samples.handle), asc(samples.at))
      .all();
    const rows = aggregateMinutes(raw);
    if (rows.length === 0) return;
    db.insert(sampleMinutes)
      .values(rows)
      .onConflictDoUpdate({ target: [sampleMinutes.handle, sampleMinutes.minute], set: REWRITE })
      .run();
  }

  /** Close the open minutes that `ended` says are over, a batch per minute. */
  function closeWhere(ended: (minute: number) => boolean) {
    const byMinute = new Map<number, string[]>();
    for (const [handle, minute] of open)
      if (ended(minute)) {
        byMinute.set(minute, [...(byMinute.get(minute) ?? []), handle]);
        open.delete(handle);
      }
    for (const [minute, handles] of byMinute) close(handles, minute);
  }

  /** Minutes that ended while nothing closed them (a container stopped or gone since). */
  const closeEnded = (now: number) => closeWhere((minute) => minute < minuteOf(now));

  /** After a restart: the raw minutes since each container's last aggregate. */
  function catchUp() {
    const lastRaw = db
      .select({ handle: samples.handle, at: max(samples.at) })
      .from(samples)
      .groupBy(samples.handle)
      .all();
    for (const { handle, at } of lastRaw) {
      if (at === null) continue;
      const done = db
        .select({ minute: max(sampleMinutes.minute) })
        .from(sampleMinutes)
        .where(eq(sampleMinutes.handle, handle))
        .get()?.minute;
      const from = done === null || done === undefined ? minuteOf(at) : done + MINUTE;
      for (let minute = from; minute < minuteOf(at); minute += MINUTE) close([handle], minute);
      open.set(handle, minuteOf(at));
    }
  }

  function prune(now = Date.now()) {
    const cutoff = retentionCutoffs(now, rawMs, aggregateMs);
    db.delete(samples).where(lt(samples.at, cutoff.raw)).run();
    db.delete(sampleMinutes).where(lt(sampleMinutes.minute, cutoff.minutes)).run();
  }

  const guarded = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      // History is an aid: a failing write never stops the stats cycle or the gauges.
      log.warn({ event: 'history.write_failed', what, err: String(err) }, 'history not written');
    }
  };

  return {
    start() {
      guarded('catch up', catchUp);
      guarded('prune', () => prune());
      timer = setInterval(() => {
        guarded('close minutes', () => closeEnded(Date.now()));
        guarded('prune', () => prune());
      }, pruneEveryMs);
      timer.unref?.();
    },
    stop() {
      clearInterval(timer);
      // Every open minute, ended or not: a restart rewrites the last one from its raw samples.
      guarded('close minutes', () => closeWhere(() => true));
    },

    /** One stats cycle: a row per container that answered, in one statement. */
    record(at: number, collected: Map<string, ContainerStats>) {
      const rows: SampleRow[] = [];
      for (const [handle, stats] of collected) {
        rows.push(toSample(handle, at, stats, network.get(handle)));
        network.set(handle, { at, rx: stats.networkRxBytes, tx: stats.networkTxBytes });
      }
      for (const handle of network.keys()) if (!collected.has(handle)) network.delete(handle);
      guarded('samples', () => {
        if (rows.length) db.insert(samples).values(rows).onConflictDoNothing().run();
        // Containers sampled in a new minute close their previous one.
        closeWhere((minute) => minute < minuteOf(at));
        for (const { handle } of rows) open.set(handle, minuteOf(at));
      });
    },

    ...createHistoryReads(db, rawMs),
    prune,
    /** For tests and the bench: close every minute that has ended by `now`. */
    closeEnded,
  };
}

export type History = ReturnType<typeof createHistory>;
