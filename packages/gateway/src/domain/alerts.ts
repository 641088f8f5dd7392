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
  /** The alert's runbook section: the platform's page (a path) unless BEACON_RUNBOOK_URL is the base. */
  runbookUrl?: string;
  labels: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  fingerprint?: string;
  source: 'alertmanager' | 'grafana';
  receivedAt: string;
}

/**
 * The rules' runbook links are paths of the platform's own page (/docs/runbook#<alert>); with a base (the
 * operator's copy of the runbook), the section is looked up there. Any other link is kept as it came.
 */
export function runbookLink(url: string | undefined, base: string | undefined): string | undefined {
  if (!url || !base || !url.startsWith('/docs/runbook')) return url;
  const section = url.split('#')[1];
  return section ? `${base.split('#')[0]}#${section}` : base;
}

export function normalizeAlerts(
  payload: AlertPayload,
  receivedAt = new Date(),
  runbookBase?: string,
): ReceivedAlert[] {
  // Grafana's payload carries orgId/state; Alertmanager's carries version "4" and groupKey.
  const source = 'orgId' in payload || 'state' in payload ? 'grafana' : 'alertmanager';
  return payload.alerts.map((a) => ({
    alertname: a.labels.alertname ?? a.labels.__alert_rule_title__ ?? 'unnamed',
    status: a.status,
    ...(a.labels.severity ? { severity: a.labels.severity } : {}),
    ...(a.annotations?.summary ? { summary: a.annotations.summary } : {}),
    ...(a.annotations?.description ? { description: a.annotations.description } : {}),
    ...(a.annotations?.runbook_url
      ? { runbookUrl: runbookLink(a.annotations.runbook_url, runbookBase) as string }
      : {}),
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
