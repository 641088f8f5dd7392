/**
 * Generates Beacon's Grafana dashboards with Grafana's own typed builders (@grafana/grafana-foundation-sdk):
 * `bun distro/observability/dashboards/generate.ts` writes platform-overview.json, container-detail.json and
 * cost-usage.json next to this file. Every query names only metrics the services export (checked by
 * tests/observability/). The panels are listed as data below; the SDK builds the dashboard JSON.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import { LogsSortOrder } from '@grafana/grafana-foundation-sdk/common';
import {
  type Dashboard,
  DashboardBuilder,
  DashboardCursorSync,
  type DataSourceRef,
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import * as logs from '@grafana/grafana-foundation-sdk/logs';
import * as loki from '@grafana/grafana-foundation-sdk/loki';
import * as piechart from '@grafana/grafana-foundation-sdk/piechart';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

const PROM: DataSourceRef = { type: 'prometheus', uid: 'beacon-prometheus' };
const LOKI: DataSourceRef = { type: 'loki', uid: 'beacon-loki' };

type Target = { expr: string; legend?: string; instant?: boolean; loki?: boolean };
type PanelType = 'stat' | 'timeseries' | 'table' | 'piechart' | 'bargauge' | 'logs';
interface PanelSpec {
  title: string;
  type: PanelType;
  unit?: string;
  targets: Target[];
  w?: number;
  h?: number;
  description?: string;
  decimals?: number;
}

const PANELS = {
  stat: () => new stat.PanelBuilder(),
  timeseries: () => new timeseries.PanelBuilder(),
  table: () => new table.PanelBuilder(),
  piechart: () => new piechart.PanelBuilder(),
  bargauge: () => new bargauge.PanelBuilder(),
  logs: () =>
    new logs.PanelBuilder()
      .showTime(true)
      .wrapLogMessage(true)
      .enableLogDetails(true)
      .sortOrder(LogsSortOrder.Descending),
};

function query(t: Target, j: number) {
  const refId = String.fromCharCode(65 + j);
  if (t.loki) return new loki.DataqueryBuilder().refId(refId).datasource(LOKI).expr(t.expr);
  const q = new prometheus.DataqueryBuilder().refId(refId).datasource(PROM).expr(t.expr);
  if (t.legend) q.legendFormat(t.legend);
  if (t.instant) q.instant().format(prometheus.PromQueryFormat.Table);
  return q;
}

/**
 * Several Docker hosts: each platform's series carry the `host` label of its scrape target (prometheus.yml,
 * platforms/*.json), and dashboards with this variable show the hosts picked (All: every one).
 */
const hostVar = new QueryVariableBuilder('host')
  .label('Docker host')
  .datasource(PROM)
  .query('label_values(platform_containers, host)')
  .definition('label_values(platform_containers, host)')
  .refresh(VariableRefresh.OnTimeRangeChanged)
  .sort(VariableSort.AlphabeticalAsc)
  .includeAll(true)
  .allValue('.*')
  .multi(true);

/** Every platform_* selector of an expression, restricted to the hosts picked. */
const onHosts = (expr: string) =>
  expr.replace(
    /\b(platform_\w+)(\{([^}]*)\})?/g,
    (_m, name: string, _b, matchers?: string) => `${name}{host=~"$host"${matchers ? `,${matchers}` : ''}}`,
  );

/** Panels laid out left to right in rows of 24 columns; the returned JSON is what Grafana provisions. */
function dashboard(
  uid: string,
  title: string,
  time: string,
  panels: PanelSpec[],
  variables: QueryVariableBuilder[] = [],
): DashboardJson {
  const builder = new DashboardBuilder(title)
    .uid(uid)
    .tags(['beacon'])
    .timezone('browser')
    .editable()
    .readonly()
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh('30s')
    .time({ from: time, to: 'now' });
  for (const v of variables) builder.withVariable(v);
  const byHost = variables.includes(hostVar);
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  panels.forEach((p, i) => {
    const w = p.w ?? 8;
    const h = p.h ?? 8;
    if (x + w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const panel = PANELS[p.type]()
      .id(i + 1)
      .title(p.title)
      .gridPos({ x, y, w, h })
      .datasource(p.targets.some((t) => t.loki) ? LOKI : PROM)
      .unit(p.unit ?? 'short');
    if (p.description) panel.description(p.description);
    if (p.decimals !== undefined) panel.decimals(p.decimals);
    for (const [j, t] of p.targets.entries())
      panel.withTarget(query(byHost && !t.loki ? { ...t, expr: onHosts(t.expr) } : t, j));
    builder.withPanel(panel);
    x += w;
    rowHeight = Math.max(rowHeight, h);
  });
  // Plain JSON (what is written and provisioned), typed for the tests that read it.
  return JSON.parse(JSON.stringify(builder.build()));
}

/** The built dashboard as plain JSON; the parts the tests read, typed. */
export type DashboardJson = Omit<Dashboard, 'panels' | 'templating' | 'time'> & {
  uid: string;
  schemaVersion: number;
  refresh: string;
  time: { from: string; to: string };
  templating: { list: Record<string, unknown>[] };
  panels: DashboardPanel[];
};

export interface DashboardPanel {
  type: string;
  title: string;
  datasource: { type: string; uid: string };
  fieldConfig: { defaults: { unit?: string } };
  targets: { expr: string; datasource: { type: string; uid: string } }[];
}

const rate = (m: string) => `rate(${m}[$__rate_interval])`;

export const overview = dashboard(
  'beacon-overview',
  'Beacon — Platform Overview',
  'now-1h',
  [
    {
      title: 'Containers running',
      type: 'stat',
      w: 4,
      h: 4,
      targets: [{ expr: 'sum(platform_containers{state="running"})' }],
    },
    {
      title: 'Containers stopped',
      type: 'stat',
      w: 4,
      h: 4,
      targets: [{ expr: 'sum(platform_containers{state="stopped"})' }],
    },
    {
      title: 'AI cost, last 24 h',
      type: 'stat',
      unit: 'currencyUSD',
      decimals: 2,
      w: 4,
      h: 4,
      targets: [{ expr: 'sum(increase(proxy_api_cost_usd_total[1d]))' }],
    },
    {
      title: 'Web shells open',
      type: 'stat',
      w: 4,
      h: 4,
      targets: [{ expr: 'sum(gateway_ws_connections_active)' }],
    },
    {
      title: 'Provision success rate',
      type: 'stat',
      unit: 'percentunit',
      w: 4,
      h: 4,
      targets: [
        {
          expr: `sum(${rate('platform_provision_duration_seconds_count{status="ok"}')}) / sum(${rate('platform_provision_duration_seconds_count')})`,
        },
      ],
    },
    {
      title: 'Dispatch queue',
      type: 'stat',
      w: 4,
      h: 4,
      targets: [{ expr: 'sum(gateway_dispatch_queue_depth)' }],
    },
    {
      title: 'Requests by service',
      type: 'timeseries',
      unit: 'reqps',
      targets: [{ expr: `sum by (job) (${rate('http_requests_total')})`, legend: '{{job}}' }],
    },
    {
      title: 'Dispatches by outcome',
      type: 'timeseries',
      unit: 'ops',
      targets: [{ expr: `sum by (status) (${rate('gateway_kernel_dispatch_total')})`, legend: '{{status}}' }],
    },
    {
      title: '5xx ratio by service',
      type: 'timeseries',
      unit: 'percentunit',
      targets: [
        {
          expr: `sum by (job) (${rate('http_requests_total{status=~"5.."}')}) / sum by (job) (${rate('http_requests_total')})`,
          legend: '{{job}}',
        },
      ],
    },
    {
      title: 'CPU by container (% of one core)',
      type: 'timeseries',
      unit: 'percent',
      w: 12,
      targets: [{ expr: 'platform_container_cpu_percent', legend: '{{handle}}' }],
    },
    {
      title: 'Memory by container',
      type: 'timeseries',
      unit: 'bytes',
      w: 12,
      targets: [{ expr: 'platform_container_memory_bytes', legend: '{{handle}}' }],
    },
    {
      title: 'Pools: idle and held',
      type: 'timeseries',
      w: 12,
      description: 'Warm idle containers and containers held by tenants, per pool (BEACON_POOLS).',
      targets: [
        { expr: 'sum by (pool) (platform_pool_available)', legend: '{{pool}} idle' },
        { expr: 'sum by (pool) (platform_pool_borrowed)', legend: '{{pool}} held' },
        { expr: 'max by (pool) (platform_pool_max_size)', legend: '{{pool}} max' },
      ],
    },
    {
      title: 'Pool acquisitions p95 and refusals',
      type: 'timeseries',
      unit: 's',
      w: 12,
      description: 'Refused: acquisitions answered 503 because every container of the pool was held.',
      targets: [
        {
          expr: 'histogram_quantile(0.95, sum by (le, pool) (rate(platform_pool_acquire_duration_seconds_bucket[$__rate_interval])))',
          legend: '{{pool}} p95',
        },
        {
          expr: 'sum by (pool) (rate(platform_pool_acquire_duration_seconds_count{status="exhausted"}[$__rate_interval]))',
          legend: '{{pool}} refused/s',
        },
      ],
    },
    {
      title: 'Pool lifecycle p95',
      type: 'timeseries',
      unit: 's',
      w: 12,
      description: 'Creating a warm container, wiping a released one, answering a release (seed 004).',
      targets: ['create', 'wipe', 'release'].map((step) => ({
        expr: `histogram_quantile(0.95, sum by (le, pool) (rate(platform_pool_${step}_duration_seconds_bucket[$__rate_interval])))`,
        legend: `{{pool}} ${step}`,
      })),
    },
    {
      title: 'Pool utilization and affinity reservations',
      type: 'timeseries',
      w: 12,
      description:
        'Held over maximum (HighPoolUtilization above 0.9), and idle containers kept for their last tenant.',
      targets: [
        { expr: 'platform_pool_borrowed / (platform_pool_max_size > 0)', legend: '{{pool}} held / max' },
        { expr: 'platform_pool_affinity_reservations', legend: '{{pool}} reserved' },
      ],
    },
    {
      title: 'p99 latency by service (quick routes)',
      type: 'timeseries',
      unit: 's',
      w: 12,
      description: 'What HighLatency watches: streams, agent runs, AI calls and container starts left out.',
      targets: [
        {
          expr: 'histogram_quantile(0.99, sum by (job, le) (rate(http_request_duration_seconds_bucket{job=~"gateway|platform|proxy", route!~"/api/events|/ws|/api/message|/v1/.*|/api/containers|/api/containers/:handle/.*|/api/pools/:name/.*"}[$__rate_interval])))',
          legend: '{{job}}',
        },
      ],
    },
    {
      title: 'Service CPU and event-loop lag',
      type: 'timeseries',
      w: 12,
      description:
        'Cores used (ServiceHighCPU above 0.8) and p99 event-loop lag in seconds (EventLoopLag above 0.1).',
      targets: [
        {
          expr: 'rate(process_cpu_seconds_total{job=~"gateway|platform|proxy"}[$__rate_interval])',
          legend: '{{job}} cores',
        },
        {
          expr: 'nodejs_eventloop_lag_p99_seconds{job=~"gateway|platform|proxy"}',
          legend: '{{job}} lag p99',
        },
      ],
    },
    {
      title: 'Docker engine: p95 by operation and failures',
      type: 'timeseries',
      unit: 's',
      w: 12,
      description: 'Engine calls of the platform (DockerOperationsSlow, DockerOperationsFailing).',
      targets: [
        {
          expr: 'histogram_quantile(0.95, sum by (le, operation) (rate(platform_docker_operation_duration_seconds_bucket{operation!="events"}[$__rate_interval])))',
          legend: '{{operation}} p95',
        },
        {
          expr: 'sum by (operation) (rate(platform_docker_operation_duration_seconds_count{status="error"}[$__rate_interval]))',
          legend: '{{operation}} failed/s',
        },
      ],
    },
    {
      title: 'Refused credentials by service',
      type: 'timeseries',
      w: 12,
      description:
        '401/403 per second by service and reason (AuthFailureSpike above 1/s, PossibleBruteForce above 10/s).',
      targets: [
        {
          expr: 'sum by (job, reason) (rate(http_auth_refused_total[$__rate_interval]))',
          legend: '{{job}} {{reason}}',
        },
      ],
    },
  ],
  [hostVar],
);

const handleVar = new QueryVariableBuilder('handle')
  .label('Container')
  .datasource(PROM)
  .query('label_values(platform_container_cpu_percent{host=~"$host"}, handle)')
  .definition('label_values(platform_container_cpu_percent{host=~"$host"}, handle)')
  .refresh(VariableRefresh.OnTimeRangeChanged)
  .sort(VariableSort.AlphabeticalAsc)
  .includeAll(false)
  .multi(false);

const h = '{handle="$handle"}';
export const containerDetail = dashboard(
  'beacon-container',
  'Beacon — Container Detail',
  'now-1h',
  [
    { title: 'Up', type: 'stat', w: 4, h: 4, targets: [{ expr: `platform_container_up${h}` }] },
    { title: 'Healthy', type: 'stat', w: 4, h: 4, targets: [{ expr: `platform_container_healthy${h}` }] },
    { title: 'Processes', type: 'stat', w: 4, h: 4, targets: [{ expr: `platform_container_pids${h}` }] },
    {
      title: 'AI cost today (interaction log)',
      type: 'stat',
      unit: 'currencyUSD',
      decimals: 4,
      w: 6,
      h: 4,
      targets: [
        {
          expr: 'sum(sum_over_time({job="beacon", type="interaction", handle="$handle"} | json | unwrap costUsd [24h]))',
          loki: true,
        },
      ],
    },
    {
      title: 'Recycles (all containers, 1 h)',
      type: 'stat',
      w: 6,
      h: 4,
      targets: [{ expr: 'sum(increase(platform_container_recycles_total[1h]))' }],
    },
    {
      title: 'CPU (% of one core)',
      type: 'timeseries',
      unit: 'percent',
      targets: [{ expr: `platform_container_cpu_percent${h}`, legend: 'cpu' }],
    },
    {
      title: 'Memory against its limit',
      type: 'timeseries',
      unit: 'bytes',
      targets: [
        { expr: `platform_container_memory_bytes${h}`, legend: 'used' },
        { expr: `platform_container_memory_limit_bytes${h}`, legend: 'limit' },
      ],
    },
    {
      title: 'Network',
      type: 'timeseries',
      unit: 'Bps',
      targets: [
        { expr: rate(`platform_container_network_receive_bytes_total${h}`), legend: 'received' },
        { expr: rate(`platform_container_network_transmit_bytes_total${h}`), legend: 'sent' },
      ],
    },
    {
      title: 'Dispatch latency p50 / p95 / p99 (all containers)',
      type: 'timeseries',
      unit: 's',
      w: 12,
      description: 'The gateway measures dispatches per source, not per handle (a bounded label set).',
      targets: [0.5, 0.95, 0.99].map((q) => ({
        expr: `histogram_quantile(${q}, sum by (le) (${rate('gateway_kernel_dispatch_duration_seconds_bucket')}))`,
        legend: `p${q * 100}`,
      })),
    },
    {
      title: 'Recent logs',
      type: 'logs',
      w: 12,
      h: 10,
      targets: [{ expr: '{job="beacon", handle="$handle"}', loki: true }],
    },
  ],
  [hostVar, handleVar],
);

export const costUsage = dashboard('beacon-cost', 'Beacon — Cost & Usage', 'now-7d', [
  {
    title: 'Daily cost',
    type: 'timeseries',
    unit: 'currencyUSD',
    w: 12,
    targets: [{ expr: 'sum(increase(proxy_api_cost_usd_total[1d]))', legend: 'USD per day' }],
  },
  {
    title: 'Cost per user (range)',
    type: 'table',
    unit: 'currencyUSD',
    w: 6,
    targets: [
      { expr: 'sort_desc(sum by (user) (increase(proxy_api_cost_usd_total[$__range])))', instant: true },
    ],
  },
  {
    title: 'Cost by model (range)',
    type: 'piechart',
    unit: 'currencyUSD',
    w: 6,
    targets: [
      {
        expr: 'sum by (model) (increase(proxy_api_cost_usd_total[$__range]))',
        legend: '{{model}}',
        instant: true,
      },
    ],
  },
  {
    title: 'Tokens in and out',
    type: 'timeseries',
    unit: 'short',
    w: 12,
    targets: [{ expr: `sum by (direction) (${rate('proxy_api_tokens_total')})`, legend: '{{direction}}' }],
  },
  {
    title: 'Cost per dispatch',
    type: 'timeseries',
    unit: 'currencyUSD',
    w: 6,
    targets: [
      {
        expr: `sum(${rate('gateway_ai_cost_usd_total')}) / sum(${rate('gateway_kernel_dispatch_total{status="ok"}')})`,
        legend: 'USD per dispatch',
      },
    ],
  },
  {
    title: 'Quota utilization per user',
    type: 'bargauge',
    unit: 'percentunit',
    w: 6,
    targets: [
      {
        expr: 'max by (user, window) (proxy_quota_utilization_ratio)',
        legend: '{{user}} ({{window}})',
        instant: true,
      },
    ],
  },
  {
    title: 'Quota rejections',
    type: 'timeseries',
    unit: 'ops',
    w: 12,
    targets: [{ expr: `sum by (user) (${rate('proxy_quota_rejections_total')})`, legend: '{{user}}' }],
  },
]);

export const dashboards = {
  'platform-overview': overview,
  'container-detail': containerDetail,
  'cost-usage': costUsage,
};

if (import.meta.main) {
  for (const [name, d] of Object.entries(dashboards)) {
    writeFileSync(join(import.meta.dir, `${name}.json`), `${JSON.stringify(d, null, 2)}\n`);
  }
}
