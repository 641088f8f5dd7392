import type { CostRow } from '@beacon/core';
import type { LastExit } from '../db/schema/containers';
import type { SampleRow } from '../db/schema/samples';
import { formatBytes, formatUsd } from './format';
import { aggregateMinutes } from './history';
import type { ContainerStats } from './stats';

/** An exit this recent still marks the container: it crashed or was OOM-killed and came back. */
const RECENT_EXIT_MS = 3_600_000;

export interface HealthInput {
  state: string;
  desired: string;
  restarts: number;
  lastExit: LastExit | null;
  unhealthy: boolean;
}

/** What the Health column says, and whether the row is trouble. Never "ok" after a recent OOM or crash. */
export function healthOf(r: HealthInput, now = Date.now()): { label: string; trouble: boolean } {
  if (r.state === 'lost') return { label: 'its host is lost', trouble: true };
  if (r.desired === 'stopped') return { label: 'stopped by operator', trouble: false };
  const exit = r.lastExit;
  const how = exit ? (exit.oomKilled ? 'OOM-killed' : `exited (code ${exit.code})`) : 'not running';
  if (r.state !== 'running') return { label: r.restarts > 0 ? `${how}, crash-looping` : how, trouble: true };
  if (r.unhealthy) return { label: 'unhealthy', trouble: true };
  if (exit && now - Date.parse(exit.at) < RECENT_EXIT_MS)
    return { label: `${how} ${new Date(exit.at).toISOString().slice(11, 16)} UTC, restarted`, trouble: true };
  return { label: 'ok', trouble: false };
}

/** The newest word on each alert (by fingerprint, else name and labels): those still firing. */
export function firingNow<
  A extends { status: string; fingerprint?: string; alertname: string; labels: object },
>(newestFirst: A[]): A[] {
  const seen = new Set<string>();
  const firing: A[] = [];
  for (const a of newestFirst) {
    const key = a.fingerprint ?? `${a.alertname} ${JSON.stringify(a.labels)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (a.status === 'firing') firing.push(a);
  }
  return firing;
}

/** A pool's container handle is `<pool>-<12 hex>` (pools.ts); its costs belong to its tenants. */
export const poolOfHandle = (handle: string, pools: string[]) =>
  pools.find((p) => handle.startsWith(`${p}-`) && /^[0-9a-f]{12}$/.test(handle.slice(p.length + 1)));

interface CostLine {
  days: Record<string, number>;
  totalUsd: number;
}

const add = (line: CostLine, day: string, usd: number) => {
  line.days[day] = (line.days[day] ?? 0) + usd;
  line.totalUsd += usd;
};

/**
 * Cost per container per day; for pooled containers per tenant instead (one container serves many tenants
 * in turn, and a tenant may use several). Keys minted without a handle are `unattributed`.
 */
export function splitCosts(rows: CostRow[], pools: string[]) {
  const containers = new Map<string, CostLine & { handle: string }>();
  const tenants = new Map<string, CostLine & { pool: string; tenant: string }>();
  const unattributed: CostLine = { days: {}, totalUsd: 0 };
  for (const r of rows) {
    if (!r.handle) {
      add(unattributed, r.day, r.costUsd);
      continue;
    }
    const pool = poolOfHandle(r.handle, pools);
    if (pool) {
      const key = `${pool}/${r.user}`;
      const line = tenants.get(key) ?? { pool, tenant: r.user, days: {}, totalUsd: 0 };
      tenants.set(key, line);
      add(line, r.day, r.costUsd);
    } else {
      const line = containers.get(r.handle) ?? { handle: r.handle, days: {}, totalUsd: 0 };
      containers.set(r.handle, line);
      add(line, r.day, r.costUsd);
    }
  }
  return { containers: [...containers.values()], tenants: [...tenants.values()], unattributed };
}

/**
 * What the proxy recorded on one day, whoever spent it: containers listed or gone, pooled ones' tenants, and
 * keys minted without a handle (a user's own). The console's "AI cost today" is this, not the rows' sum.
 */
export const spentOn = (rows: CostRow[], day: string) =>
  rows.reduce((sum, r) => (r.day === day ? sum + r.costUsd : sum), 0);

/** The last `count` UTC days ending today, oldest first (YYYY-MM-DD). */
export function lastDays(count: number, now = Date.now()): string[] {
  return Array.from({ length: count }, (_, i) =>
    new Date(now - (count - 1 - i) * 86_400_000).toISOString().slice(0, 10),
  );
}

export interface RecentPoint {
  cpu: number | null;
  mem: number;
}

/** Sparkline points: the raw samples while they are few, else one per minute. */
export function recentPoints(raw: SampleRow[], most = 120): RecentPoint[] {
  if (raw.length <= most) return raw.map((r) => ({ cpu: r.cpu, mem: r.mem }));
  return aggregateMinutes(raw).map((m) => ({ cpu: m.cpuAvg, mem: m.memAvg }));
}

export interface FleetInput extends HealthInput {
  handle: string;
  owner: string;
  image: string;
  pool: string | null;
  startedAt: string | null;
  stats: ContainerStats | undefined;
  /** The last hour, oldest first (raw samples, or minutes when there are many). */
  recent: RecentPoint[];
  costDays: Record<string, number> | undefined;
}

const percentOf = (part: number, whole: number) =>
  whole > 0 ? ` (${((part / whole) * 100).toFixed(0)}%)` : '';

/** One console row: numbers for the charts, words for the cells, troubled ones first. */
export function fleetRows(rows: FleetInput[], days: string[], now = Date.now()) {
  const today = days.at(-1) ?? '';
  return rows
    .map((r) => {
      const health = healthOf(r, now);
      const s = r.stats;
      const cost = r.costDays;
      // A stopped container's last sample of the hour: its last known figures, said to be such.
      const last = s ? undefined : r.recent.at(-1);
      return {
        handle: r.handle,
        owner: r.owner,
        image: r.image,
        pool: r.pool,
        state: r.state,
        desired: r.desired,
        restarts: r.restarts,
        lastExit: r.lastExit,
        health: health.label,
        trouble: health.trouble,
        oomKilled: r.lastExit?.oomKilled === true && health.trouble,
        uptimeSeconds:
          r.state === 'running' && r.startedAt
            ? Math.max(0, Math.round((now - Date.parse(r.startedAt)) / 1000))
            : null,
        cpuPercent: s?.cpuPercent ?? null,
        memoryBytes: s?.memoryBytes ?? null,
        memoryLimitBytes: s?.memoryLimitBytes ?? null,
        pids: s?.pids ?? null,
        spark: {
          cpu: r.recent.map((p) => p.cpu ?? 0),
          memory: r.recent.map((p) => Math.round(p.mem)),
        },
        costTodayUsd: cost ? (cost[today] ?? 0) : null,
        costTrend: cost ? days.map((d) => cost[d] ?? 0) : null,
        text: {
          cpu:
            s?.cpuPercent !== undefined
              ? `${s.cpuPercent.toFixed(1)}%`
              : last?.cpu != null
                ? `${last.cpu.toFixed(1)}% (last)`
                : '—',
          memory: s
            ? `${formatBytes(s.memoryBytes)} / ${formatBytes(s.memoryLimitBytes)}${percentOf(s.memoryBytes, s.memoryLimitBytes)}`
            : last
              ? `${formatBytes(last.mem)} (last)`
              : '—',
          network: s ? `${formatBytes(s.networkRxBytes)} / ${formatBytes(s.networkTxBytes)}` : '—',
          cost: cost ? formatUsd(cost[today] ?? 0) : '—',
          cost7d: cost ? formatUsd(days.reduce((a, d) => a + (cost[d] ?? 0), 0)) : '—',
        },
      };
    })
    .sort((a, b) => Number(b.trouble) - Number(a.trouble) || a.handle.localeCompare(b.handle));
}
