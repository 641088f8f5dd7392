import { html } from 'hono/html';
import type { LastExit } from '../db/schema/containers';
import { formatBytes, formatUsd } from '../domain/format';
import type { ContainerStats } from '../domain/stats';

export interface AdminRow {
  handle: string;
  owner: string;
  state: string;
  desired: string;
  restarts: number;
  lastExit: LastExit | null;
  unhealthy: boolean;
  stats?: ContainerStats;
  costUsd?: number;
}

export interface AdminPageData {
  rows: AdminRow[];
  /** Why AI cost is missing, when it is. */
  costProblem?: string;
  grafanaUrl: string;
  generatedAt: Date;
}

const STYLE = `
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d232a; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
  .summary span { margin-right: 1.5rem; }
  .notice { background: #fff4d6; padding: .4rem .6rem; margin: .75rem 0; }
  table { border-collapse: collapse; margin-top: 1rem; width: 100%; }
  th, td { text-align: left; padding: .3rem .7rem; border-bottom: 1px solid #e3e6ea; white-space: nowrap; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  tr.trouble td { background: #fde8e8; }
  footer { margin-top: 1rem; color: #68717c; }
`;

const percentOf = (part: number, whole: number) =>
  whole > 0 ? ` (${((part / whole) * 100).toFixed(0)}%)` : '';

/** An exit this recent still marks the container: it crashed or was OOM-killed and came back. */
const RECENT_EXIT_MS = 3_600_000;

/** What the Health column says, and whether the row is trouble. Never "ok" after a recent OOM or crash. */
export function healthOf(r: AdminRow, now = Date.now()): { label: string; trouble: boolean } {
  if (r.desired === 'stopped') return { label: 'stopped by operator', trouble: false };
  const exit = r.lastExit;
  const how = exit ? (exit.oomKilled ? 'OOM-killed' : `exited (code ${exit.code})`) : 'not running';
  if (r.state !== 'running') return { label: r.restarts > 0 ? `${how}, crash-looping` : how, trouble: true };
  if (r.unhealthy) return { label: 'unhealthy', trouble: true };
  if (exit && now - Date.parse(exit.at) < RECENT_EXIT_MS)
    return { label: `${how} ${new Date(exit.at).toISOString().slice(11, 16)} UTC, restarted`, trouble: true };
  return { label: 'ok', trouble: false };
}

function row(r: AdminRow, costKnown: boolean) {
  const s = r.stats;
  const health = healthOf(r);
  return html`<tr class="${health.trouble ? 'trouble' : ''}" data-handle="${r.handle}">
    <td>${r.handle}</td>
    <td>${r.owner}</td>
    <td>${r.state}</td>
    <td class="health">${health.label}</td>
    <td class="num">${r.restarts}</td>
    <td class="num">${s?.cpuPercent === undefined ? '—' : `${s.cpuPercent.toFixed(1)}%`}</td>
    <td class="num">${s ? `${formatBytes(s.memoryBytes)} / ${formatBytes(s.memoryLimitBytes)}${percentOf(s.memoryBytes, s.memoryLimitBytes)}` : '—'}</td>
    <td class="num">${s ? `${formatBytes(s.networkRxBytes)} / ${formatBytes(s.networkTxBytes)}` : '—'}</td>
    <td class="num">${s ? s.pids : '—'}</td>
    <td class="num">${costKnown ? formatUsd(r.costUsd ?? 0) : '—'}</td>
  </tr>`;
}

/**
 * GET /admin: every container with CPU, memory, network and today's AI cost, for operators without
 * Grafana. Refreshes itself every 15 s (the stats interval). Values are escaped by hono/html.
 */
export function adminPage({ rows, costProblem, grafanaUrl, generatedAt }: AdminPageData) {
  const trouble = (r: AdminRow) => Number(healthOf(r).trouble);
  const sorted = [...rows].sort((a, b) => trouble(b) - trouble(a) || a.handle.localeCompare(b.handle));
  const running = rows.filter((r) => r.state === 'running').length;
  const unhealthy = rows.filter((r) => healthOf(r).trouble).length;
  const cost = rows.reduce((sum, r) => sum + (r.costUsd ?? 0), 0);
  const costKnown = costProblem === undefined;
  return html`<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta http-equiv="refresh" content="15">
  <title>Beacon — containers</title>
  <style>${STYLE}</style>
</head>
<body>
  <h1>Beacon — containers</h1>
  <p class="summary">
    <span><b id="running">${running}</b> running of ${rows.length}</span>
    <span><b id="unhealthy">${unhealthy}</b> in trouble</span>
    <span>AI cost today <b id="cost">${costKnown ? formatUsd(cost) : '—'}</b></span>
  </p>
  ${costKnown ? '' : html`<p class="notice">AI cost unavailable: ${costProblem}.</p>`}
  <table>
    <thead><tr>
      <th>Handle</th><th>Owner</th><th>State</th><th>Health</th><th class="num">Restarts</th><th class="num">CPU</th>
      <th class="num">Memory (used / limit)</th><th class="num">Network (rx / tx)</th><th class="num">PIDs</th>
      <th class="num">AI cost today</th>
    </tr></thead>
    <tbody>${sorted.map((r) => row(r, costKnown))}</tbody>
  </table>
  <footer>Generated ${generatedAt.toISOString()} · CPU in % of one core · cost since 00:00 UTC ·
    <a href="${grafanaUrl}">Grafana</a> · <a href="/admin/dashboard">JSON</a></footer>
</body>
</html>`;
}
