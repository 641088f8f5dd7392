import { beforeAll, describe, expect, test } from 'bun:test';
import { readdirSync, readFileSync } from 'node:fs';
import { dashboards } from '../../distro/observability/dashboards/generate';
import { hasTool } from '../support/deps';
import {
  dashboardQueries,
  exportedMetricNames,
  metricNames,
  promtoolParse,
  resolveGrafanaVariables,
} from '../support/promql';

const dir = 'distro/observability/dashboards';
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
const ANGULAR = new Set([
  'graph',
  'singlestat',
  'table-old',
  'grafana-piechart-panel',
  'grafana-worldmap-panel',
]);

describe('Grafana dashboards', () => {
  test('the committed JSON is what generate.ts produces, valid and complete', () => {
    expect(files.sort()).toEqual(
      Object.keys(dashboards)
        .map((n) => `${n}.json`)
        .sort(),
    );
    for (const [name, d] of Object.entries(dashboards)) {
      const text = readFileSync(`${dir}/${name}.json`, 'utf8');
      expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(d)));
      expect(text).not.toContain('${DS_');
    }
  });

  test('stable unique uids, schemaVersion ≥ 39, datasources by uid, units, no Angular panels', () => {
    const all = Object.values(dashboards);
    expect(new Set(all.map((d) => d.uid)).size).toBe(all.length);
    for (const d of all) {
      expect(d.schemaVersion).toBeGreaterThanOrEqual(39);
      for (const p of d.panels) {
        expect(ANGULAR.has(p.type)).toBe(false);
        expect(['beacon-prometheus', 'beacon-loki']).toContain(p.datasource.uid);
        if (p.type !== 'logs') expect(p.fieldConfig.defaults.unit).toBeTruthy();
        for (const t of p.targets) expect(['beacon-prometheus', 'beacon-loki']).toContain(t.datasource.uid);
      }
    }
    // The host first: the containers offered are the picked hosts' ones.
    expect(dashboards['container-detail'].templating.list.map((v) => v.name)).toEqual(['host', 'handle']);
    expect(dashboards['container-detail'].templating.list[1]).toMatchObject({
      definition: 'label_values(platform_container_cpu_percent{host=~"$host"}, handle)',
    });
    expect(dashboards['platform-overview'].templating.list[0]).toMatchObject({
      name: 'host',
      includeAll: true,
      allValue: '.*',
    });
    expect(dashboards['platform-overview']).toMatchObject({ refresh: '30s', time: { from: 'now-1h' } });
    expect(dashboards['cost-usage'].time.from).toBe('now-7d');
  });

  test('rate() always uses $__rate_interval, except whole-day increases', () => {
    for (const q of dashboardQueries().filter((q) => !q.loki)) {
      for (const m of q.expr.matchAll(/\brate\([^[]*\[([^\]]+)\]/g)) expect(m[1]).toBe('$__rate_interval');
    }
  });

  test.skipIf(!hasTool('promtool'))('every PromQL expression parses', async () => {
    const exprs = dashboardQueries()
      .filter((q) => !q.loki)
      .map((q) => resolveGrafanaVariables(q.expr));
    expect(await promtoolParse(exprs)).toBe('');
    expect(await promtoolParse(['sum(rate(nope[1m]']).then((out) => out.length > 0)).toBe(true);
  });

  describe('metric names', () => {
    let exported: Set<string>;
    beforeAll(async () => {
      exported = await exportedMetricNames();
    });

    test('dashboards and alert rules read only metrics the services export', () => {
      const rules = readFileSync('distro/observability/alerting/rules.yml', 'utf8');
      const ruleExprs = [...rules.matchAll(/expr: (\|\n(?:\s{10}.*\n)+|.*)/g)].map((m) => m[1] as string);
      const used = [
        ...dashboardQueries()
          .filter((q) => !q.loki)
          .map((q) => q.expr),
        ...ruleExprs,
      ].flatMap(metricNames);
      expect(used.length).toBeGreaterThan(30);
      expect(used.filter((n) => !exported.has(n))).toEqual([]);
    });
  });
});
