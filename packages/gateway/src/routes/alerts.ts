import {
  alertsAnswer,
  failure,
  jsonAnswer,
  jsonBody,
  type Logger,
  openRouter,
  type SseBroadcaster,
  tokenAuth,
} from '@beacon/core';
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { alertNameLabel, alertPayloadSchema, normalizeAlerts, type ReceivedAlert } from '../domain/alerts';
import type { GatewayMetrics } from '../metrics';

const KEEP = 200;

const intake = createRoute({
  method: 'post',
  path: '/',
  request: { body: jsonBody(alertPayloadSchema) },
  responses: {
    200: jsonAnswer(z.object({ received: z.number() }), 'how many alerts were taken'),
    400: failure('not an Alertmanager or Grafana webhook payload'),
  },
});
const list = createRoute({
  method: 'get',
  path: '/',
  request: { query: z.object({ status: z.enum(['firing', 'resolved']).optional() }) },
  responses: {
    200: jsonAnswer(alertsAnswer, `the last ${KEEP} alerts, newest first`),
    400: failure('status is firing or resolved'),
  },
});

/**
 * POST /api/alert (Alertmanager / Grafana webhook) → SSE alert.firing / alert.resolved; GET /api/alerts, the
 * recent ones (user API: the console reads it with BEACON_GATEWAY_API_TOKEN). Two routers, two prefixes.
 */
export function alertRoutes({
  sse,
  metrics,
  log,
  alertToken: token,
  userAuth,
  runbookBase,
}: {
  /** BEACON_RUNBOOK_URL: where the rules' runbook sections are read (else the platform's page). */
  runbookBase?: string | undefined;
  userAuth: MiddlewareHandler;
  sse: SseBroadcaster;
  metrics: GatewayMetrics;
  log: Logger;
  alertToken?: string | undefined;
}) {
  const recent: ReceivedAlert[] = [];
  // Alertmanager sends `authorization: Bearer` from its http_config; without a token the gateway is loopback-only.
  const alertAuth = token
    ? tokenAuth(token, {
        name: 'alert token (BEACON_ALERT_TOKEN, else BEACON_ADMIN_TOKEN)',
        role: 'alert-token',
      })
    : undefined;
  const receive = openRouter(alertAuth).openapi(intake, (c) => {
    const alerts = normalizeAlerts(c.req.valid('json'), new Date(), runbookBase);
    for (const alert of alerts) {
      metrics.alertsReceived.inc({ alertname: alertNameLabel(alert.alertname), status: alert.status });
      sse.broadcast(`alert.${alert.status}`, alert);
      log.info(
        { event: `alert.${alert.status}`, alertname: alert.alertname, severity: alert.severity },
        alert.summary ?? '',
      );
      recent.push(alert);
    }
    recent.splice(0, Math.max(0, recent.length - KEEP));
    return c.json({ received: alerts.length }, 200);
  });
  const read = openRouter(userAuth).openapi(list, (c) => {
    const { status } = c.req.valid('query');
    return c.json({ alerts: [...recent].reverse().filter((a) => !status || a.status === status) }, 200);
  });
  return { receive, read };
}
