import { describe, expect, test } from 'bun:test';
import { normalizeAlerts, runbookLink } from '../../packages/gateway/src/domain/alerts';
import { getJson, type TestGateway, useGateways } from '../support/gateway';
import { sseClient } from '../support/sse';

// As Alertmanager 0.28 sends it (webhook version 4), plus a field a newer version might add.
const alertmanager = (status: 'firing' | 'resolved') => ({
  version: '4',
  groupKey: '{}:{alertname="ContainerOOM"}',
  truncatedAlerts: 0,
  status,
  receiver: 'beacon-gateway',
  groupLabels: { alertname: 'ContainerOOM' },
  commonLabels: { alertname: 'ContainerOOM', severity: 'critical', handle: 'alice' },
  commonAnnotations: { summary: 'alice is near its memory limit' },
  externalURL: 'http://alertmanager:9093',
  alerts: [
    {
      status,
      labels: { alertname: 'ContainerOOM', severity: 'critical', handle: 'alice', job: 'platform' },
      annotations: {
        summary: 'alice is near its memory limit',
        description: 'memory/limit = 0.95 for 5m',
        runbook_url: 'https://github.com/beacon/beacon/blob/main/docs/runbook.md#containeroom',
      },
      startsAt: '2026-11-23T01:00:00Z',
      endsAt: status === 'resolved' ? '2026-11-23T01:10:00Z' : '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus:9090/graph?g0.expr=...',
      fingerprint: 'a1b2c3d4e5f60718',
      silenceURL: 'added-by-a-future-version',
    },
  ],
});

// As Grafana 12 unified alerting sends it, with its extra fields.
const grafana = {
  receiver: 'beacon',
  status: 'firing',
  orgId: 1,
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'HighCostRate', grafana_folder: 'Beacon', severity: 'warning' },
      annotations: { summary: 'spend above $10/day' },
      startsAt: '2026-11-23T01:00:00Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://grafana:3200/alerting/grafana/abc/view',
      fingerprint: '0123456789abcdef',
      silenceURL: 'http://grafana:3200/alerting/silence/new',
      dashboardURL: '',
      panelURL: '',
      values: { A: 12.5, C: 1 },
      valueString: "[ var='A' labels={} value=12.5 ]",
      orgId: 1,
    },
  ],
  groupLabels: { alertname: 'HighCostRate' },
  commonLabels: { alertname: 'HighCostRate' },
  commonAnnotations: {},
  externalURL: 'http://grafana:3200/',
  version: '1',
  groupKey: '{}:{alertname="HighCostRate"}',
  truncatedAlerts: 0,
  title: '[FIRING:1] HighCostRate Beacon',
  state: 'alerting',
  message: '**Firing**\n\nValue: A=12.5',
};

const post = (g: TestGateway, body: unknown, headers: Record<string, string> = {}) =>
  g.app.request('/api/alert', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

const start = useGateways();

describe('runbook links', () => {
  test("a rule's path on the platform's page is kept, or sent to BEACON_RUNBOOK_URL's section; other links stay", () => {
    expect(runbookLink('/docs/runbook#containerdown', undefined)).toBe('/docs/runbook#containerdown');
    expect(runbookLink('/docs/runbook#containerdown', 'https://wiki.example/ops/beacon#top')).toBe(
      'https://wiki.example/ops/beacon#containerdown',
    );
    expect(runbookLink('https://elsewhere/rb#x', 'https://wiki.example/rb')).toBe('https://elsewhere/rb#x');
    const [alert] = normalizeAlerts(
      {
        alerts: [
          {
            status: 'firing',
            labels: { alertname: 'ContainerDown' },
            annotations: { runbook_url: '/docs/runbook#containerdown' },
          },
        ],
      },
      new Date(),
      'https://wiki.example/rb',
    );
    expect(alert?.runbookUrl).toBe('https://wiki.example/rb#containerdown');
  });
});

describe('POST /api/alert', () => {
  test('Alertmanager firing then resolved: broadcast on SSE, counted, kept', async () => {
    const g = start();
    const client = await sseClient(`${g.url}/api/events`);
    expect((await post(g, alertmanager('firing'))).status).toBe(200);
    const firing = await client.waitFor((e) => e.event === 'alert.firing');
    expect(JSON.parse(firing.data)).toMatchObject({
      alertname: 'ContainerOOM',
      status: 'firing',
      severity: 'critical',
      summary: 'alice is near its memory limit',
      source: 'alertmanager',
      labels: { handle: 'alice' },
    });
    expect((await post(g, alertmanager('resolved'))).status).toBe(200);
    await client.waitFor((e) => e.event === 'alert.resolved');
    const text = await g.registry.metrics();
    expect(text).toContain('gateway_alerts_received_total{alertname="ContainerOOM",status="firing"} 1');
    expect(text).toContain('gateway_alerts_received_total{alertname="ContainerOOM",status="resolved"} 1');
    const { alerts } = await getJson(g, '/api/alerts');
    expect(alerts.map((a: { status: string }) => a.status)).toEqual(['resolved', 'firing']);
    expect((await getJson(g, '/api/alerts?status=firing')).alerts).toHaveLength(1);
    client.close();
  });

  test('Grafana webhook payloads are accepted with their extra fields', async () => {
    const g = start();
    const res = await post(g, grafana);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: 1 });
    const [alert] = (await getJson(g, '/api/alerts')).alerts;
    expect(alert).toMatchObject({ alertname: 'HighCostRate', source: 'grafana', severity: 'warning' });
    expect(await g.registry.metrics()).toContain(
      'gateway_alerts_received_total{alertname="HighCostRate",status="firing"} 1',
    );
  });

  test('a malformed payload is a 400 naming the problem, and nothing is broadcast', async () => {
    const g = start();
    const client = await sseClient(`${g.url}/api/events`);
    const bad = [
      '{not json',
      { alerts: [] },
      { alerts: [{ status: 'burning', labels: { alertname: 'X' } }] },
      { alerts: [{ status: 'firing' }] },
      { status: 'firing' },
    ];
    for (const body of bad) {
      const res = await post(g, body);
      expect(res.status).toBe(400);
      expect((await res.json()).error.message).toMatch(/body/);
    }
    await Bun.sleep(50);
    expect(client.events.filter((e) => e.event.startsWith('alert.'))).toHaveLength(0);
    expect((await getJson(g, '/api/alerts')).alerts).toHaveLength(0);
    client.close();
  });

  test('with a token the webhook needs it', async () => {
    const g = start({ alertToken: 'alert-token-0123456789' });
    expect((await post(g, alertmanager('firing'))).status).toBe(401);
    expect((await post(g, alertmanager('firing'), { authorization: 'Bearer nope' })).status).toBe(403);
    const ok = await post(g, alertmanager('firing'), { authorization: 'Bearer alert-token-0123456789' });
    expect(ok.status).toBe(200);
  });
});

describe('the alert counter', () => {
  test("alert names come from the request, so the label keeps only the shipped rules' names; others are other", async () => {
    const g = start();
    const alerts = Array.from({ length: 250 }, (_, i) => ({
      status: 'firing',
      labels: { alertname: `Made${i}` },
    }));
    alerts.push({ status: 'firing', labels: { alertname: 'PossibleBruteForce' } });
    expect((await post(g, { alerts })).status).toBe(200);
    const text = await g.registry.metrics();
    expect(text.match(/gateway_alerts_received_total\{alertname="Made\d+"/g)).toBeNull();
    expect(text).toContain('gateway_alerts_received_total{alertname="other",status="firing"} 250');
    expect(text).toContain('gateway_alerts_received_total{alertname="PossibleBruteForce",status="firing"} 1');
  });
});
