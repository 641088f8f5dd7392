import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { hasDocker, hasTool } from '../support/deps';
import { ensureTestImage, handlePrefix, removeContainers, TEST_IMAGE } from '../support/docker';
import { freePort } from '../support/ports';
import { dashboardQueries, resolveGrafanaVariables } from '../support/promql';
import { type RunningService, startService } from '../support/service';

const METRICS_TOKEN = 'live-metrics-token-0123456789';

import { eventually } from '../support/wait';

// The three services and a real Prometheus with the project's scrape jobs and rules pointed at them:
// every target is up, every dashboard and alert expression evaluates, the main panels have data.
const available = hasTool('prometheus') && (await hasDocker());
const prefix = handlePrefix('live');
const work = mkdtempSync(join(tmpdir(), 'beacon-live-'));

describe.skipIf(!available)('live: services scraped by a real Prometheus', () => {
  const services: Record<string, RunningService> = {};
  let prometheus: ReturnType<typeof Bun.spawn> | undefined;
  let promUrl = '';

  const query = async (expr: string) => {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
  };

  beforeAll(async () => {
    await ensureTestImage();
    for (const service of ['gateway', 'platform', 'proxy']) {
      services[service] = await startService(service, {
        // Scraped with a token, as compose's Prometheus does (a file it reads).
        BEACON_METRICS_TOKEN: METRICS_TOKEN,
        BEACON_DATA_DIR: join(work, service),
        BEACON_HOME: join(work, 'home'),
        BEACON_STATS_INTERVAL: '1',
        BEACON_DEFAULT_IMAGE: TEST_IMAGE,
        BEACON_POOLS: JSON.stringify([{ name: `${prefix}-p`, min: 1, max: 1 }]),
      });
    }
    // The project's prometheus.yml, with its targets replaced by these processes and a 1 s interval.
    const config = parse(readFileSync('distro/observability/prometheus.yml', 'utf8'));
    config.global.scrape_interval = '1s';
    config.global.evaluation_interval = '1s';
    config.rule_files = [resolve('distro/observability/alerting/rules.yml')];
    delete config.alerting;
    config.scrape_configs = config.scrape_configs
      .filter((j: { job_name: string }) => services[j.job_name])
      .map((j: { job_name: string; static_configs: { labels?: object }[]; file_sd_configs?: unknown }) => ({
        ...j,
        authorization: { credentials_file: join(work, 'metrics-token') },
        static_configs: [
          { targets: [new URL(services[j.job_name]?.url ?? '').host], labels: j.static_configs[0]?.labels },
        ],
        // A second Docker host's platform, found through file-based discovery (here: the same process).
        ...(j.file_sd_configs ? { file_sd_configs: [{ files: [join(work, 'platforms', '*.json')] }] } : {}),
      }));
    mkdirSync(join(work, 'platforms'));
    writeFileSync(join(work, 'metrics-token'), METRICS_TOKEN);
    writeFileSync(
      join(work, 'platforms', 'host-b.json'),
      JSON.stringify([{ targets: [new URL(services.platform?.url ?? '').host], labels: { host: 'host-b' } }]),
    );
    writeFileSync(join(work, 'prometheus.yml'), JSON.stringify(config));
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = Bun.spawn(
      [
        'prometheus',
        `--config.file=${join(work, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(work, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdout: 'ignore', stderr: 'ignore' },
    );
    await eventually(async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok, 20_000);

    // Some traffic and one container.
    const platform = services.platform?.url ?? '';
    const created = await fetch(`${platform}/api/containers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ handle: `${prefix}-one`, command: ['sleep', '3600'], health: 'none' }),
    });
    expect(created.status).toBe(201);
    for (const s of Object.values(services)) for (let i = 0; i < 5; i++) await fetch(`${s.url}/health`);
    await eventually(async () => {
      const r = await query(`platform_container_memory_bytes{handle="${prefix}-one"}`);
      return (r.data?.result.length ?? 0) > 0;
    }, 20_000);
  });

  afterAll(async () => {
    prometheus?.kill();
    await prometheus?.exited;
    await removeContainers(prefix);
    for (const s of Object.values(services)) await s.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('every target is up', async () => {
    const targets = await (await fetch(`${promUrl}/api/v1/targets`)).json();
    const active = targets.data.activeTargets as { labels: { job: string; host?: string }; health: string }[];
    expect(active.map((t) => t.labels.job).sort()).toEqual(['gateway', 'platform', 'platform', 'proxy']);
    // The compose platform and one from platforms/*.json, each with its host label.
    const hosts = active.filter((t) => t.labels.job === 'platform').map((t) => t.labels.host);
    expect(hosts.sort()).toEqual(['host-b', 'local']);
    await eventually(async () => {
      const t = await (await fetch(`${promUrl}/api/v1/targets`)).json();
      return (t.data.activeTargets as { health: string }[]).every((x) => x.health === 'up');
    }, 10_000);
  });

  test('every dashboard expression evaluates without error', async () => {
    const failures: string[] = [];
    for (const q of dashboardQueries().filter((q) => !q.loki)) {
      const r = await query(resolveGrafanaVariables(q.expr).replace('some-handle', `${prefix}-one`));
      if (r.status !== 'success') failures.push(`${q.dashboard} / ${q.panel}: ${r.error}`);
    }
    expect(failures).toEqual([]);
  });

  test('every alert rule loads and evaluates', async () => {
    const rules = await (await fetch(`${promUrl}/api/v1/rules`)).json();
    const all = rules.data.groups.flatMap((g: { rules: unknown[] }) => g.rules) as {
      name: string;
      health: string;
      query: string;
    }[];
    const shipped = parse(readFileSync('distro/observability/alerting/rules.yml', 'utf8')).groups.flatMap(
      (g: { rules: unknown[] }) => g.rules,
    );
    expect(all.length).toBe(shipped.length);
    await eventually(async () => {
      const r = await (await fetch(`${promUrl}/api/v1/rules`)).json();
      return r.data.groups
        .flatMap((g: { rules: { health: string }[] }) => g.rules)
        .every((x: { health: string }) => x.health === 'ok');
    }, 10_000);
    for (const rule of all) expect((await query(rule.query)).status).toBe('success');
  });

  test('the main panels return data', async () => {
    const handle = `${prefix}-one`;
    for (const expr of [
      'sum(platform_containers{state="running"})',
      `platform_container_cpu_percent{handle="${handle}"}`,
      `platform_container_memory_limit_bytes{handle="${handle}"}`,
      'sum by (job) (rate(http_requests_total[1m]))',
      'sum(gateway_ws_connections_active)',
      'sum(gateway_dispatch_queue_depth)',
      // What PoolExhausted reads.
      `platform_pool_available{pool="${prefix}-p"} == 1 and platform_pool_max_size == 1`,
      // The Container Detail `handle` variable: label_values(platform_container_cpu_percent, handle).
      'count by (handle) (platform_container_cpu_percent)',
    ]) {
      const r = await eventually(async () => {
        const res = await query(expr);
        return (res.data?.result.length ?? 0) > 0 ? res : undefined;
      }, 10_000).catch(() => undefined);
      expect(r?.data?.result.length ?? 0, expr).toBeGreaterThan(0);
    }
  });
});
