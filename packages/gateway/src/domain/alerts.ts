import { z } from 'zod';

/**
 * Alertmanager (webhook version 4) and Grafana webhook payloads share the part Beacon needs: an
 * `alerts` array whose items have a status and labels (alertname among them). Unknown and newer fields
 * are ignored.
 */
const alertSchema = z.looseObject({
  status: z.enum(['firing', 'resolved']),
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()).optional(),
  startsAt: z.string().optional(),
  endsAt: z.string().optional(),
  fingerprint: z.string().optional(),
  generatorURL: z.string().optional(),
});

export const alertPayloadSchema = z.looseObject({
  version: z.string().optional(),
  receiver: z.string().optional(),
  status: z.enum(['firing', 'resolved']).optional(),
  title: z.string().optional(),
  alerts: z.array(alertSchema).min(1),
});

export type AlertPayload = z.infer<typeof alertPayloadSchema>;

export interface ReceivedAlert {
  alertname: string;
  status: 'firing' | 'resolved';
  severity?: string;
  summary?: string;
  description?: string;
  labels: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  fingerprint?: string;
  source: 'alertmanager' | 'grafana';
  receivedAt: string;
}

export function normalizeAlerts(payload: AlertPayload, receivedAt = new Date()): ReceivedAlert[] {
  // Grafana's payload carries orgId/state; Alertmanager's carries version "4" and groupKey.
  const source = 'orgId' in payload || 'state' in payload ? 'grafana' : 'alertmanager';
  return payload.alerts.map((a) => ({
    alertname: a.labels.alertname ?? a.labels.__alert_rule_title__ ?? 'unnamed',
    status: a.status,
    ...(a.labels.severity ? { severity: a.labels.severity } : {}),
    ...(a.annotations?.summary ? { summary: a.annotations.summary } : {}),
    ...(a.annotations?.description ? { description: a.annotations.description } : {}),
    labels: a.labels,
    ...(a.startsAt ? { startsAt: a.startsAt } : {}),
    ...(a.endsAt ? { endsAt: a.endsAt } : {}),
    ...(a.fingerprint ? { fingerprint: a.fingerprint } : {}),
    source,
    receivedAt: receivedAt.toISOString(),
  }));
}

/** The alerts distro/observability/alerting/rules.yml ships (a test keeps the two equal). */
export const SHIPPED_ALERTS: ReadonlySet<string> = new Set([
  'ContainerOOM',
  'ContainerOOMKilled',
  'ContainerDown',
  'ContainerCrashLooping',
  'DockerHostLost',
  'ContainerUnhealthy',
  'StatsCollectorSlow',
  'PoolExhausted',
  'SlowContainerAcquisition',
  'HighPoolUtilization',
  'ContainersRecycledOften',
  'ContainerHighCPU',
  'DockerOperationsFailing',
  'DockerOperationsSlow',
  'ServiceDown',
  'HighErrorRate',
  'HighLatency',
  'ServiceHighCPU',
  'EventLoopLag',
  'AuthFailureSpike',
  'PossibleBruteForce',
  'DispatchQueueBacklog',
  'NoAgentRuns',
  'HighCostRate',
  'QuotaRejectionsSpike',
]);

/** The `alertname` label: a shipped rule's name, else `other` (the name comes from the request). */
export const alertNameLabel = (name: string) => (SHIPPED_ALERTS.has(name) ? name : 'other');
