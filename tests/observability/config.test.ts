import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { hasTool } from '../support/deps';

const dir = 'distro/observability';

async function run(cmd: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn(cmd, { stdout: 'pipe', stderr: 'pipe', env: { ...Bun.env, ...env } });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, output: out + err, stdout: out };
}

const SPEC_ALERTS = [
  'ContainerOOM',
  'ContainerDown',
  'ServiceDown',
  'ContainerUnhealthy',
  'HighCostRate',
  'HighErrorRate',
  'DispatchQueueBacklog',
  'StatsCollectorSlow',
  'QuotaRejectionsSpike',
];

describe('Prometheus configuration and alert rules', () => {
  test.skipIf(!hasTool('promtool'))('promtool check config and check rules', async () => {
    const config = await run(['promtool', 'check', 'config', `${dir}/prometheus.yml`]);
    expect(config.output).toContain('SUCCESS');
    expect(config.code).toBe(0);
    expect((await run(['promtool', 'check', 'rules', `${dir}/alerting/rules.yml`])).code).toBe(0);
  });

  test.skipIf(!hasTool('promtool'))(
    'promtool test rules: each alert fires after its for, for the right series only',
    async () => {
      const result = await run(['promtool', 'test', 'rules', `${dir}/alerting/rules.test.yml`]);
      expect(result.output).toContain('SUCCESS');
      expect(result.code).toBe(0);
    },
  );

  test('every alert of the spec exists with severity, summary, description and a runbook section', () => {
    const rules = parse(readFileSync(`${dir}/alerting/rules.yml`, 'utf8')).groups.flatMap(
      (g: { rules: unknown[] }) => g.rules,
    ) as { alert: string; labels: { severity: string }; annotations: Record<string, string> }[];
    const runbook = readFileSync('docs/runbook.md', 'utf8').toLowerCase();
    for (const name of SPEC_ALERTS) expect(rules.map((r) => r.alert)).toContain(name);
    const tests = readFileSync(`${dir}/alerting/rules.test.yml`, 'utf8');
    for (const rule of rules) {
      expect(['critical', 'warning', 'info']).toContain(rule.labels.severity);
      expect(rule.annotations.summary).toBeTruthy();
      expect(rule.annotations.description).toBeTruthy();
      const anchor = rule.annotations.runbook_url?.split('#')[1] ?? '';
      expect(anchor).toBe(rule.alert.toLowerCase());
      expect(runbook).toContain(`## ${rule.alert.toLowerCase()}`);
      expect(tests).toContain(`alertname: ${rule.alert}`);
    }
  });
});

describe('Alertmanager', () => {
  test.skipIf(!hasTool('amtool'))('amtool check-config', async () => {
    const result = await run(['amtool', 'check-config', `${dir}/alertmanager.yml`]);
    expect(result.output).toContain('SUCCESS');
    expect(result.code).toBe(0);
  });

  test.skipIf(!hasTool('amtool'))('every severity reaches the gateway receiver', async () => {
    for (const severity of ['critical', 'warning', 'info']) {
      const result = await run([
        'amtool',
        'config',
        'routes',
        'test',
        `--config.file=${dir}/alertmanager.yml`,
        `severity=${severity}`,
        'alertname=AnyAlert',
      ]);
      expect(result.code).toBe(0);
      expect(result.stdout.trim().split(',')).toContain('gateway');
    }
  });
});

describe('docker compose', () => {
  test.skipIf(!hasTool('docker-compose'))(
    'docker-compose config accepts the two files together',
    async () => {
      const result = await run(
        [
          'docker-compose',
          '-f',
          'distro/docker-compose.platform.yml',
          '-f',
          `${dir}/docker-compose.observability.yml`,
          'config',
        ],
        {
          BEACON_ADMIN_TOKEN: 'x'.repeat(24),
          BEACON_S3_SECRET_KEY: 'secret123',
          BEACON_POSTGRES_PASSWORD: 'pw',
          GRAFANA_ADMIN_PASSWORD: 'pw',
        },
      );
      expect(result.code).toBe(0);
      const config = parse(result.output);
      for (const s of [
        'gateway',
        'platform',
        'proxy',
        'nats',
        'minio',
        'postgres',
        'prometheus',
        'grafana',
        'loki',
        'alertmanager',
        'alloy',
      ]) {
        expect(config.services[s]).toBeDefined();
        expect(config.services[s].healthcheck).toBeDefined();
      }
      // Published ports are on loopback only.
      for (const service of Object.values(config.services) as {
        ports?: (string | { host_ip?: string })[];
      }[]) {
        for (const port of service.ports ?? []) {
          expect(typeof port === 'string' ? port.split(':')[0] : port.host_ip).toBe('127.0.0.1');
        }
      }
    },
  );
});
