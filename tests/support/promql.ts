import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dashboards } from '../../distro/observability/dashboards/generate';
import { runCommand } from './command';
import { startService } from './service';

/** Grafana's variables replaced by values Prometheus accepts. */
export const resolveGrafanaVariables = (expr: string) =>
  expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__range', '1h')
    .replaceAll('$__interval', '1m')
    .replaceAll('$handle', 'some-handle')
    .replaceAll('$host', '.*');

export interface DashboardQuery {
  dashboard: string;
  panel: string;
  expr: string;
  loki: boolean;
}

export function dashboardQueries(): DashboardQuery[] {
  return Object.values(dashboards).flatMap((d) =>
    d.panels.flatMap((p) =>
      p.targets.map((t) => ({
        dashboard: d.uid,
        panel: p.title,
        expr: t.expr,
        loki: t.datasource.type === 'loki',
      })),
    ),
  );
}

/** Metric names a PromQL expression reads (label names, functions and keywords left out). */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\[[^\]]*\]/g, '');
  return [...stripped.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)]
    .map((m) => m[1] as string)
    .filter((n) => n.includes('_') || n === 'up');
}

/** Parse expressions with promtool (as recording rules): returns its complaints, '' when all parse. */
export async function promtoolParse(exprs: string[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-promql-'));
  try {
    const rules = exprs
      .map((e, i) => `      - record: beacon:check_${i}\n        expr: ${JSON.stringify(e)}`)
      .join('\n');
    writeFileSync(join(dir, 'r.yml'), `groups:\n  - name: parse\n    rules:\n${rules}\n`);
    const { code, output } = await runCommand(['promtool', 'check', 'rules', join(dir, 'r.yml')]);
    return code === 0 ? '' : output;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every metric name the three services export, read from their live /metrics (histograms expanded). */
export async function exportedMetricNames(): Promise<Set<string>> {
  const names = new Set<string>(['up']);
  for (const service of ['gateway', 'platform', 'proxy']) {
    const running = await startService(service, {
      BEACON_DATA_DIR: mkdtempSync(join(tmpdir(), `beacon-${service}-`)),
      BEACON_HOME: mkdtempSync(join(tmpdir(), 'beacon-home-')),
    });
    try {
      const text = await (await fetch(`${running.url}/metrics`)).text();
      for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
        names.add(name as string);
        if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${name}${s}`);
      }
    } finally {
      await running.stop();
    }
  }
  return names;
}
