// Beacon console: the fleet live over GET /admin/stream, one container's history, logs and dispatches.
// Plain DOM (textContent only, never markup from data) and uPlot, both served by the platform itself.

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? '')));
  return node;
};
const SVG = 'http://www.w3.org/2000/svg';
const COLORS = { cpu: '#2b6cb0', memory: '#805ad5', limit: '#c53030', rx: '#2f855a', tx: '#dd6b20' };

const duration = (s) => {
  if (s === null || s === undefined) return '—';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
};
const usd = (v) => (v === 0 ? '$0' : v >= 1 ? `$${v.toFixed(2)}` : `$${v.toPrecision(3)}`);

/** A line (or bars) of numbers in a small inline SVG. */
function spark(values, color, { bars = false, width = 90, height = 22 } = {}) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('width', width);
  svg.setAttribute('height', height);
  const top = Math.max(...values, 1e-9);
  if (bars) {
    const w = width / Math.max(values.length, 1);
    values.forEach((v, i) => {
      const r = document.createElementNS(SVG, 'rect');
      const h = (v / top) * (height - 2);
      for (const [k, val] of Object.entries({
        x: i * w + 1,
        y: height - h,
        width: w - 2,
        height: h,
        fill: color,
      }))
        r.setAttribute(k, val);
      svg.append(r);
    });
  } else if (values.length > 1) {
    const step = width / (values.length - 1);
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute(
      'points',
      values.map((v, i) => `${i * step},${height - 1 - (v / top) * (height - 2)}`).join(' '),
    );
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke', color);
    line.setAttribute('stroke-width', '1.5');
    svg.append(line);
  }
  return svg;
}

async function act(handle, verb) {
  if (!confirm(`${verb === 'delete' ? 'Delete' : verb[0].toUpperCase() + verb.slice(1)} ${handle}?`)) return;
  const res = await fetch(
    verb === 'delete' ? `/api/containers/${handle}` : `/api/containers/${handle}/${verb}`,
    { method: verb === 'delete' ? 'DELETE' : 'POST' },
  );
  const body = res.status === 204 ? null : await res.json().catch(() => null);
  const message = res.ok ? `${verb}: done` : `${verb} failed: ${body?.error?.message ?? res.status}`;
  const box = location.hash.startsWith('#/c/') ? $('c-message') : $('notice');
  box.textContent = message;
  box.hidden = false;
  if (verb === 'delete' && res.ok) location.hash = '#/';
}

function actions(row) {
  const verbs =
    row.state === 'running' ? ['stop', 'restart', 'recycle', 'delete'] : ['start', 'recycle', 'delete'];
  return el(
    'span',
    { class: 'actions' },
    ...verbs.map((v) => el('button', { 'data-action': v, onclick: () => act(row.handle, v) }, v)),
  );
}

function healthCell(row) {
  const cell = el('td', { class: 'health' });
  if (row.oomKilled) cell.append(el('span', { class: 'badge oom' }, 'OOM'), ' ');
  cell.append(row.health);
  return cell;
}

let fleet;

function renderFleet(data) {
  fleet = data;
  const t = data.totals;
  $('totals').replaceChildren(
    el('span', {}, el('b', { id: 'running' }, t.running), ` running of ${t.containers}`),
    el('span', {}, el('b', { id: 'trouble' }, t.trouble), ' in trouble'),
    el(
      'span',
      {},
      'AI cost today ',
      el('b', { id: 'cost' }, t.costTodayUsd === null ? '—' : usd(t.costTodayUsd)),
      t.unattributedTodayUsd
        ? el(
            'span',
            { id: 'cost-unattributed', class: 'muted' },
            ` (${usd(t.unattributedTodayUsd)} of it on keys of no listed container)`,
          )
        : '',
    ),
  );
  const problems = [
    data.costs.problem && `AI cost unavailable: ${data.costs.problem}.`,
    data.alerts.problem && `Alerts unavailable: ${data.alerts.problem}.`,
  ].filter(Boolean);
  $('notice').textContent = problems.join(' ');
  $('notice').hidden = problems.length === 0;
  // Several Docker hosts: a strip of them with their state, a banner for any not up, a host column.
  const hosts = data.hosts ?? [];
  document.body.classList.toggle('multihost', hosts.length > 1);
  $('hosts').hidden = hosts.length <= 1;
  $('hosts').replaceChildren(
    ...hosts.map((h) =>
      el('span', { class: `host ${h.state}`, 'data-host': h.host }, `${h.host} `, el('b', {}, h.state)),
    ),
  );
  const down = hosts.filter((h) => h.state !== 'up');
  const lostRows = (h) => data.containers.filter((r) => r.host === h.host).length;
  $('hosts-banner').textContent = [
    ...down.map(
      (h) =>
        `Host ${h.host} is ${h.state === 'lost' ? 'lost' : 'up but its Docker engine does not answer'} (last heard ${h.seenAt.slice(11, 19)} UTC): its ${lostRows(h)} containers are marked.`,
    ),
    data.hostsProblem ? `${data.hostsProblem}.` : '',
  ].join(' ');
  $('hosts-banner').hidden = !down.length && !data.hostsProblem;
  $('alerts').replaceChildren(
    ...data.alerts.firing.map((a) =>
      el(
        'div',
        { class: `alert ${a.severity ?? ''}`, 'data-alert': a.alertname },
        el('b', {}, a.alertname),
        ` ${a.severity ?? ''} — ${a.summary ?? ''}`,
        a.startsAt ? ` (since ${a.startsAt.slice(0, 16).replace('T', ' ')} UTC)` : '',
        a.runbookUrl ? ' — ' : '',
        a.runbookUrl ? el('a', { href: a.runbookUrl, target: '_blank', rel: 'noopener' }, 'runbook') : '',
      ),
    ),
  );
  $('fleet').tBodies[0].replaceChildren(
    ...data.containers.map((r) =>
      el(
        'tr',
        { class: r.trouble ? 'trouble' : '', 'data-handle': r.handle },
        el(
          'td',
          {},
          el('a', { href: `#/c/${r.handle}` }, r.handle),
          el('div', { class: 'owner' }, r.pool ? `pool ${r.pool}` : r.owner === r.handle ? '' : r.owner),
        ),
        el('td', { class: 'host-col' }, r.host ?? ''),
        el('td', { class: 'state' }, el('span', { class: `badge ${r.state}` }, r.state)),
        healthCell(r),
        el('td', { class: 'num cost' }, r.text.cost),
        el('td', { class: 'cpu' }, spark(r.spark.cpu, COLORS.cpu, { width: 70 }), ' ', r.text.cpu),
        el(
          'td',
          { class: 'memory' },
          spark(r.spark.memory, COLORS.memory, { width: 70 }),
          ' ',
          r.text.memory,
        ),
        el(
          'td',
          {
            class: 'trend',
            title: `AI cost per day, the last 7 days (oldest first): ${r.text.cost7d} in all`,
          },
          r.costTrend ? spark(r.costTrend, COLORS.tx, { bars: true, width: 56 }) : '',
          el('span', { class: 'muted' }, ` ${r.text.cost7d}`),
        ),
        el('td', {}, actions(r)),
      ),
    ),
  );
  const tenants = data.costs.tenants;
  $('tenants').replaceChildren(
    ...(tenants.length
      ? [
          el('h3', {}, 'AI cost per pool tenant, 7 days'),
          el(
            'table',
            {},
            el(
              'tbody',
              {},
              ...tenants.map((x) =>
                el(
                  'tr',
                  {},
                  el('td', {}, x.pool),
                  el('td', {}, x.tenant),
                  el('td', { class: 'num' }, usd(x.totalUsd)),
                ),
              ),
            ),
          ),
        ]
      : []),
  );
  $('generated').textContent = `updated ${data.generatedAt.slice(11, 19)} UTC`;
  if (data.grafanaUrl) $('grafana').href = data.grafanaUrl;
  if (location.hash.startsWith('#/c/')) renderSummary();
}

// ---- one container

const RANGES = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000 };
let range = '1h';
const charts = {};

/** A chart of the samples; with no sample or one, its time axis spans the range asked for. */
function chart(id, series, data, yLabel, [from, to]) {
  charts[id]?.destroy();
  const box = $(id);
  box.replaceChildren();
  charts[id] = new uPlot(
    {
      width: Math.max(box.clientWidth, 300),
      height: 180,
      scales: {
        // Two samples or more span their own time; fewer would make uPlot invent years around them.
        x: { time: true, ...(data[0].length < 2 ? { range: () => [from, to] } : {}) },
        y: { range: (_u, _lo, hi) => [0, Math.max(hi ?? 0, 1)] },
      },
      series: [
        {},
        ...series.map(([label, stroke]) => ({
          label,
          stroke,
          width: 1.5,
          spanGaps: true,
          points: { show: true, size: 4 },
        })),
      ],
      axes: [{}, { label: yLabel, size: 60 }],
      legend: { live: false },
    },
    data,
    box,
  );
  if (data[0].length === 0) box.append(el('p', { class: 'muted' }, 'no sample in this range'));
}

async function loadCharts(handle) {
  const to = new Date();
  const from = new Date(to.getTime() - RANGES[range]);
  const res = await fetch(
    `/api/containers/${handle}/metrics?from=${from.toISOString()}&to=${to.toISOString()}`,
  );
  if (!res.ok) return;
  const { samples } = await res.json();
  const span = [from.getTime() / 1000, to.getTime() / 1000];
  const x = samples.map((s) => Date.parse(s.at) / 1000);
  const col = (f) => samples.map((s) => (s[f] === null || s[f] === undefined ? null : s[f]));
  const mib = (f) => col(f).map((v) => (v === null ? null : v / 1048576));
  const kib = (f) => col(f).map((v) => (v === null ? null : v / 1024));
  chart('chart-cpu', [['CPU %', COLORS.cpu]], [x, col('cpuPercent')], '%', span);
  chart(
    'chart-memory',
    [
      ['used', COLORS.memory],
      ['limit', COLORS.limit],
    ],
    [x, mib('memoryBytes'), mib('memoryLimitBytes')],
    'MiB',
    span,
  );
  chart(
    'chart-network',
    [
      ['rx', COLORS.rx],
      ['tx', COLORS.tx],
    ],
    [x, kib('rxBytesPerSec'), kib('txBytesPerSec')],
    'KiB/s',
    span,
  );
}

/** pino's numeric levels, and words for a plain line (stderr is a warning until it says otherwise). */
const LEVELS = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const RANK = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, fatal: 5 };

/** A log line as time, level, event and message; a JSON line's other fields open on a click. */
function parsedLog(l) {
  let json;
  try {
    json = l.message.startsWith('{') ? JSON.parse(l.message) : undefined;
  } catch {}
  const level = json
    ? (LEVELS[json.level] ?? String(json.level ?? 'info'))
    : l.stream === 'stderr'
      ? 'warn'
      : 'info';
  const { level: _l, time: _t, msg, event, service: _s, handle: _h, ...rest } = json ?? {};
  return {
    time: l.timestamp.slice(11, 19),
    level,
    event: event ?? '',
    message: json ? (msg ?? '') : l.message,
    rest,
  };
}

let logLevel = '';
let logLines = [];
function renderLogs() {
  const shown = logLines.filter((l) => !logLevel || (RANK[l.level] ?? 2) >= RANK[logLevel]);
  const rows = shown.map((l) => {
    const more = Object.keys(l.rest).length ? JSON.stringify(l.rest, null, 1) : '';
    const message = el('td', { class: 'message' }, l.message);
    if (more) {
      message.classList.add('more');
      message.title = 'show the other fields';
      message.addEventListener('click', () => {
        const open = message.querySelector('pre');
        if (open) open.remove();
        else message.append(el('pre', {}, more));
      });
    }
    return el(
      'tr',
      { class: `log ${l.level}` },
      el('td', {}, l.time),
      el('td', {}, l.level),
      el('td', {}, l.event),
      message,
    );
  });
  if (!rows.length)
    rows.push(
      el('tr', {}, el('td', { colspan: 4 }, logLines.length ? 'nothing at this level' : '(no output)')),
    );
  $('c-logs').tBodies[0].replaceChildren(...rows);
}

async function loadLogs(handle) {
  const res = await fetch(`/api/containers/${handle}/logs?tail=200`);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    logLines = [];
    $('c-logs').tBodies[0].replaceChildren(
      el('tr', {}, el('td', { colspan: 4 }, `logs unavailable: ${body.error?.message ?? res.status}`)),
    );
    return;
  }
  logLines = body.lines.map(parsedLog);
  renderLogs();
}

async function loadDispatches(handle) {
  const body = await (await fetch(`/admin/api/containers/${handle}/dispatches`))
    .json()
    .catch(() => ({ dispatches: [] }));
  const rows = body.dispatches.map((d) =>
    el(
      'tr',
      {},
      el('td', {}, d.timestamp.slice(0, 19).replace('T', ' ')),
      el(
        'td',
        { class: 'status' },
        d.status,
        d.error ? el('div', { class: 'muted' }, `${d.error.code}: ${d.error.message}`) : '',
      ),
      el('td', {}, d.model ?? '—'),
      el('td', { class: 'num' }, `${d.tokens.input} / ${d.tokens.output}`),
      el('td', { class: 'num' }, usd(d.costUsd)),
      el('td', { class: 'num' }, `${d.durationMs} ms`),
      el('td', {}, d.source),
    ),
  );
  if (body.problem)
    rows.push(el('tr', {}, el('td', { colspan: 7 }, `dispatches unavailable: ${body.problem}`)));
  else if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: 7 }, 'no dispatch today')));
  $('c-dispatches').tBodies[0].replaceChildren(...rows);
}

/** An event of the timeline in words: "died (code 137)", "OOM-killed", "recycled (unhealthy)". */
function eventWords(e) {
  const what = e.type.replace(/^container\./, '').replaceAll('_', ' ');
  const d = e.detail ?? {};
  if (what === 'oom') return 'OOM-killed';
  if (d.exitCode !== undefined) return `${what} (code ${d.exitCode})`;
  if (d.reason) return `${what} (${d.reason})`;
  return what;
}

let countdown;
async function loadTimeline(handle) {
  const res = await fetch(`/api/containers/${handle}`);
  const body = res.ok ? await res.json() : { timeline: [], nextRestartAt: null };
  $('c-timeline').replaceChildren(
    ...body.timeline.map((e) =>
      el(
        'li',
        { 'data-type': e.type },
        el('time', {}, e.at.slice(0, 19).replace('T', ' ')),
        ' ',
        eventWords(e),
      ),
    ),
  );
  if (!body.timeline.length) $('c-timeline').append(el('li', {}, 'no event kept for it'));
  clearInterval(countdown);
  const next = body.nextRestartAt ? Date.parse(body.nextRestartAt) : undefined;
  const tick = () => {
    const s = next ? Math.max(0, Math.round((next - Date.now()) / 1000)) : undefined;
    $('c-next-restart').textContent = s === undefined ? '' : `next restart in ${s} s`;
  };
  tick();
  if (next) countdown = setInterval(tick, 1000);
}

function renderSummary() {
  const handle = decodeURIComponent(location.hash.slice(4));
  const row = fleet?.containers.find((r) => r.handle === handle);
  $('c-handle').textContent = handle;
  $('c-summary').replaceChildren(
    ...(row
      ? [
          el('span', { class: `badge ${row.state}` }, row.state),
          ' ',
          ...(row.oomKilled ? [el('span', { class: 'badge oom' }, 'OOM'), ' '] : []),
          `${row.health} · ${row.image} · up ${duration(row.uptimeSeconds)} · ${row.restarts} restarts · ${row.text.cpu} CPU · ${row.text.memory} · ${row.pids ?? '—'} PIDs · network rx / tx ${row.text.network} · cost today ${row.text.cost}`,
        ]
      : ['not running on this platform (its history stays)']),
  );
  $('c-actions').replaceChildren(...(row ? [actions(row)] : []));
}

function showContainer(handle) {
  $('fleet-view').hidden = true;
  $('container-view').hidden = false;
  $('c-message').hidden = true;
  renderSummary();
  void loadCharts(handle);
  void loadLogs(handle);
  void loadDispatches(handle);
  void loadTimeline(handle);
}

function route() {
  if (location.hash.startsWith('#/c/')) showContainer(decodeURIComponent(location.hash.slice(4)));
  else {
    $('container-view').hidden = true;
    $('fleet-view').hidden = false;
  }
}

$('c-ranges').addEventListener('click', (e) => {
  const r = e.target.dataset?.range;
  if (!r) return;
  range = r;
  for (const b of $('c-ranges').children) b.classList.toggle('on', b.dataset.range === r);
  void loadCharts(decodeURIComponent(location.hash.slice(4)));
});
$('c-levels').addEventListener('click', (e) => {
  const level = e.target.dataset?.level;
  if (level === undefined) return;
  logLevel = level;
  for (const b of $('c-levels').children) b.classList.toggle('on', b.dataset.level === level);
  renderLogs();
});
window.addEventListener('hashchange', route);
route();

const stream = new EventSource('/admin/stream');
stream.addEventListener('fleet', (e) => renderFleet(JSON.parse(e.data)));
stream.addEventListener('open', () => {
  $('live').textContent = 'live';
  $('live').className = 'live on';
});
stream.addEventListener('error', () => {
  $('live').textContent = 'reconnecting…';
  $('live').className = 'live off';
});
