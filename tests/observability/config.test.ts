import { describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { SHIPPED_ALERTS } from '../../packages/gateway/src/domain/alerts';
import { runbookRoutes } from '../../packages/platform/src/routes/runbook';
import { runCommand } from '../support/command';
import { hasTool } from '../support/deps';

const dir = 'distro/observability';

const run = (cmd: string[], env: Record<string, string> = {}) => runCommand(cmd, { env });

const SPEC_ALERTS = [
  'HighLatency',
  'ServiceHighCPU',
  'EventLoopLag',
  'DockerOperationsFailing',
  'DockerOperationsSlow',
  'AuthFailureSpike',
  'PossibleBruteForce',
  'SlowContainerAcquisition',
  'HighPoolUtilization',
  'NoAgentRuns',
  'ContainersRecycledOften',
  'ContainerOOM',
  'ContainerDown',
  'ServiceDown',
  'ContainerUnhealthy',
  'HighCostRate',
  'HighErrorRate',
  'DispatchQueueBacklog',
  'StatsCollectorSlow',
  'QuotaRejectionsSpike',
  'PoolExhausted',
];

describe('Prometheus configuration and alert rules', () => {
  test.skipIf(!hasTool('promtool'))('promtool check config and check rules', async () => {
    // The shipped file, with the metrics token file compose mounts at /etc/prometheus/ put where it is here.
    const work = mkdtempSync(join(tmpdir(), 'beacon-promcheck-'));
    writeFileSync(join(work, 'metrics-token'), 'a-metrics-token');
    const shipped = readFileSync(`${dir}/prometheus.yml`, 'utf8')
      .replaceAll('/etc/prometheus/metrics-token', join(work, 'metrics-token'))
      .replace('- alerting/rules.yml', `- ${resolve(dir)}/alerting/rules.yml`)
      .replaceAll('/etc/prometheus/platforms/', `${resolve(dir)}/platforms/`);
    writeFileSync(join(work, 'prometheus.yml'), shipped);
    const config = await run(['promtool', 'check', 'config', join(work, 'prometheus.yml')]);
    rmSync(work, { recursive: true, force: true });
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

  test('every alert of the spec exists with severity, summary, description and a runbook section', async () => {
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
    // Every rule's runbook link is a section of the page the platform serves (offline, no token).
    const page = await (await runbookRoutes().request('/')).text();
    for (const rule of rules) {
      expect(rule.annotations.runbook_url).toBe(`/docs/runbook#${rule.alert.toLowerCase()}`);
      expect(page).toContain(`id="${rule.alert.toLowerCase()}"`);
    }
    // The gateway counts received alerts by these names (anything else is `other`).
    expect([...SHIPPED_ALERTS].sort()).toEqual(rules.map((r) => r.alert).sort());
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
          BEACON_ALERT_TOKEN: 'y'.repeat(24),
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
      // Alertmanager presents the gateway's alert token, from a file.
      expect(config.services.gateway.environment.BEACON_ALERT_TOKEN).toBe('y'.repeat(24));
      expect(JSON.stringify(config.services.alertmanager.volumes)).toContain(
        '/etc/alertmanager/gateway-token',
      );
      // Published ports are on loopback only, but the proxy's and NATS's: also on the kernels' bridge gateway
      // (the only way the users' containers reach them), never on every address.
      for (const [name, service] of Object.entries(config.services) as [
        string,
        { ports?: (string | { host_ip?: string })[] },
      ][]) {
        for (const port of service.ports ?? []) {
          const ip = typeof port === 'string' ? port.split(':')[0] : port.host_ip;
          expect({ name, ip }).toEqual({
            name,
            ip: ['proxy', 'nats'].includes(name) ? '172.31.250.1' : '127.0.0.1',
          });
        }
      }
    },
  );
});

describe('log shipping and Grafana provisioning agree with the services', () => {
  const alloy = readFileSync(`${dir}/alloy/config.alloy`, 'utf8');
  const compose = parse(readFileSync('distro/docker-compose.platform.yml', 'utf8'), { merge: true });
  const overlay = parse(readFileSync(`${dir}/docker-compose.observability.yml`, 'utf8'));

  test("Alloy tails the gateway's interaction log where compose puts it, labelled job=beacon type=interaction", () => {
    const home = compose.services.gateway.environment.BEACON_HOME as string;
    expect(overlay.services.alloy.volumes).toContain(`beacon-home:${home}:ro`);
    expect(alloy).toContain(`"__path__" = "${home}/system/logs/*.jsonl"`);
    expect(alloy).toContain('"job" = "beacon", "type" = "interaction"');
    // The timestamp comes from the line, in the field the gateway writes.
    expect(alloy).toMatch(/stage\.timestamp \{\s+source = "timestamp"/);
    expect(alloy).toContain('values = ["beacon.managed=true"]');
    expect(alloy).toContain('url = "http://loki:3100/loki/api/v1/push"');
  });

  test("the gateway's artifact store is the compose MinIO, with MinIO's own credentials", () => {
    const gw = compose.services.gateway;
    expect(gw.environment.BEACON_S3_ENDPOINT).toBe('http://minio:9000');
    expect(gw.environment.BEACON_S3_ACCESS_KEY).toBe(compose.services.minio.environment.MINIO_ROOT_USER);
    expect(gw.environment.BEACON_S3_SECRET_KEY).toBe(compose.services.minio.environment.MINIO_ROOT_PASSWORD);
    expect(gw.depends_on.minio).toEqual({ condition: 'service_healthy' });
  });

  test("Alloy ships the services' own stdout: the label it discovers is on gateway, platform and proxy", () => {
    expect(alloy).toContain('values = ["beacon.service=true"]');
    for (const service of ['gateway', 'platform', 'proxy'])
      expect(compose.services[service].labels).toEqual({ 'beacon.service': 'true' });
    for (const name of ['nats', 'minio', 'postgres']) expect(compose.services[name].labels).toBeUndefined();
    // The field the services write their trace id in.
    expect(alloy).toContain('trace_id = "traceId"');
  });

  test('Loki keeps a single-tenant filesystem store with retention', () => {
    const loki = parse(readFileSync(`${dir}/loki.yaml`, 'utf8'));
    expect(loki.auth_enabled).toBe(false);
    expect(loki.server.http_listen_port).toBe(3100);
    expect(loki.schema_config.configs[0]).toMatchObject({ store: 'tsdb', schema: 'v13' });
    expect(loki.compactor.retention_enabled).toBe(true);
  });

  test('datasources have the fixed uids the dashboards use; the provider loads the dashboards folder', () => {
    const ds = parse(
      readFileSync(`${dir}/grafana/provisioning/datasources/datasources.yml`, 'utf8'),
    ).datasources;
    expect(ds.map((d: { uid: string }) => d.uid).sort()).toEqual([
      'beacon-loki',
      'beacon-prometheus',
      'beacon-tempo',
    ]);
    // A log line links to its trace in Tempo by the trace_id structured metadata.
    expect(ds.find((d: { uid: string }) => d.uid === 'beacon-loki').jsonData.derivedFields[0]).toMatchObject({
      matcherType: 'label',
      matcherRegex: 'trace_id',
      datasourceUid: 'beacon-tempo',
    });
    expect(ds.find((d: { uid: string }) => d.uid === 'beacon-prometheus').isDefault).toBe(true);
    const provider = parse(readFileSync(`${dir}/grafana/provisioning/dashboards/dashboards.yml`, 'utf8'))
      .providers[0];
    expect(overlay.services.grafana.volumes).toContain(
      `./observability/dashboards:${provider.options.path}:ro`,
    );
    expect(overlay.services.grafana.environment).toMatchObject({
      GF_SERVER_HTTP_PORT: '3200',
      GF_AUTH_ANONYMOUS_ENABLED: 'true',
      GF_AUTH_ANONYMOUS_ORG_ROLE: 'Viewer',
    });
  });
});
