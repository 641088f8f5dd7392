import { AppError } from '@beacon/core';
import type { MinuteRow, SampleRow } from '../db/schema/samples';
import type { ContainerStats } from './stats';

const MINUTE = 60_000;

/** Network totals at the previous sample of a container, for bytes per second. */
export interface NetworkReading {
  at: number;
  rx: number;
  tx: number;
}

/** One stats cycle's reading of a container as a history row; rates need the previous reading. */
export function toSample(
  handle: string,
  at: number,
  stats: ContainerStats,
  previous: NetworkReading | undefined,
): SampleRow {
  const seconds = previous ? (at - previous.at) / 1000 : 0;
  // A restarted container starts its counters again: no rate across that.
  const rate = (now: number, before: number | undefined) =>
    seconds > 0 && before !== undefined && now >= before ? (now - before) / seconds : null;
  return {
    handle,
    at,
    cpu: stats.cpuPercent ?? null,
    mem: stats.memoryBytes,
    memLimit: stats.memoryLimitBytes,
    rx: rate(stats.networkRxBytes, previous?.rx),
    tx: rate(stats.networkTxBytes, previous?.tx),
    pids: stats.pids,
  };
}

const mean = (values: (number | null)[]) => {
  const known = values.filter((v): v is number => v !== null);
  return known.length ? known.reduce((a, v) => a + v, 0) / known.length : null;
};
const most = (values: (number | null)[]) => {
  const known = values.filter((v): v is number => v !== null);
  return known.length ? Math.max(...known) : null;
};

/** Raw samples → one row per container per minute: averages and maxima (a null is "not measured", not 0). */
export function aggregateMinutes(rows: SampleRow[]): MinuteRow[] {
  const groups = new Map<string, SampleRow[]>();
  for (const row of rows) {
    const key = `${row.handle}\u0000${Math.floor(row.at / MINUTE) * MINUTE}`;
    const group = groups.get(key);
    if (group) group.push(row);
    else groups.set(key, [row]);
  }
  return [...groups.values()].map((group) => {
    const first = group[0] as SampleRow;
    const last = group.at(-1) as SampleRow;
    return {
      handle: first.handle,
      minute: Math.floor(first.at / MINUTE) * MINUTE,
      n: group.length,
      cpuAvg: mean(group.map((r) => r.cpu)),
      cpuMax: most(group.map((r) => r.cpu)),
      memAvg: mean(group.map((r) => r.mem)) ?? 0,
      memMax: Math.max(...group.map((r) => r.mem)),
      memLimit: last.memLimit,
      rxAvg: mean(group.map((r) => r.rx)),
      txAvg: mean(group.map((r) => r.tx)),
      pidsMax: Math.max(...group.map((r) => r.pids)),
    };
  });
}

/** Minutes of one container → buckets of `stepMs` (a multiple of a minute), weighted by their samples. */
export function combineMinutes(rows: MinuteRow[], stepMs: number): MinuteRow[] {
  if (stepMs <= MINUTE) return rows;
  const buckets = new Map<number, MinuteRow[]>();
  for (const row of rows) {
    const at = Math.floor(row.minute / stepMs) * stepMs;
    const bucket = buckets.get(at);
    if (bucket) bucket.push(row);
    else buckets.set(at, [row]);
  }
  const weighted = (group: MinuteRow[], pick: (r: MinuteRow) => number | null) => {
    let sum = 0;
    let weight = 0;
    for (const r of group) {
      const v = pick(r);
      if (v === null) continue;
      sum += v * r.n;
      weight += r.n;
    }
    return weight ? sum / weight : null;
  };
  return [...buckets.entries()].map(([minute, group]) => ({
    handle: (group[0] as MinuteRow).handle,
    minute,
    n: group.reduce((a, r) => a + r.n, 0),
    cpuAvg: weighted(group, (r) => r.cpuAvg),
    cpuMax: most(group.map((r) => r.cpuMax)),
    memAvg: weighted(group, (r) => r.memAvg) ?? 0,
    memMax: Math.max(...group.map((r) => r.memMax)),
    memLimit: (group.at(-1) as MinuteRow).memLimit,
    rxAvg: weighted(group, (r) => r.rxAvg),
    txAvg: weighted(group, (r) => r.txAvg),
    pidsMax: Math.max(...group.map((r) => r.pidsMax)),
  }));
}

/** Up to this range, `step` defaults to the raw samples; beyond it, to minutes combined into ≤ MAX_POINTS. */
/**
 * A query's time window in epoch ms: the last `fallbackMs` until now by default; a 400 naming `names.end`
 * when it does not come after the start (history's from/to, the log search's since/until).
 */
export function timeWindow(
  startMs: number | undefined,
  endMs: number | undefined,
  fallbackMs: number,
  names: { start: string; end: string },
  now = Date.now(),
) {
  const to = endMs ?? now;
  const from = startMs ?? to - fallbackMs;
  if (from >= to) throw new AppError('bad_request', `${names.end}: must be after ${names.start}`);
  return { from, to };
}

export const RAW_DEFAULT_MS = 2 * 3_600_000;
export const MAX_POINTS = 720;

/** 'raw', or the step in milliseconds (whole minutes) for a range when none was asked for. */
export function defaultStep(fromMs: number, toMs: number): 'raw' | number {
  const range = toMs - fromMs;
  if (range <= RAW_DEFAULT_MS) return 'raw';
  return Math.max(1, Math.ceil(range / MAX_POINTS / MINUTE)) * MINUTE;
}

/** What pruning keeps: raw samples newer than rawMs, minutes newer than aggregateMs. */
export function retentionCutoffs(now: number, rawMs: number, aggregateMs: number) {
  return { raw: now - rawMs, minutes: Math.floor((now - aggregateMs) / MINUTE) * MINUTE };
}

/** The API's shape of a sample (ISO time); aggregates add their maxima. */
export function sampleView(row: SampleRow) {
  return {
    at: new Date(row.at).toISOString(),
    cpuPercent: row.cpu,
    memoryBytes: row.mem,
    memoryLimitBytes: row.memLimit,
    rxBytesPerSec: row.rx,
    txBytesPerSec: row.tx,
    pids: row.pids,
  };
}

export function minuteView(row: MinuteRow) {
  return {
    at: new Date(row.minute).toISOString(),
    cpuPercent: row.cpuAvg,
    cpuPercentMax: row.cpuMax,
    memoryBytes: Math.round(row.memAvg),
    memoryBytesMax: row.memMax,
    memoryLimitBytes: row.memLimit,
    rxBytesPerSec: row.rxAvg,
    txBytesPerSec: row.txAvg,
    pids: row.pidsMax,
  };
}
