import { AppError, type Logger, parseJsonBody, type SseBroadcaster, tokenAuth } from '@beacon/core';
import { Hono, type MiddlewareHandler } from 'hono';
import { alertNameLabel, alertPayloadSchema, normalizeAlerts, type ReceivedAlert } from '../domain/alerts';
import type { GatewayMetrics } from '../metrics';

const KEEP = 200;

/** POST /api/alert (Alertmanager / Grafana webhook) → SSE alert.firing / alert.resolved; GET /api/alerts. */
export function alertRoutes({
  sse,
  metrics,
  log,
  alertToken: token,
  userAuth,
}: {
  /** The list is the user API's (the console reads it with BEACON_GATEWAY_API_TOKEN). */
  userAuth: MiddlewareHandler;
  sse: SseBroadcaster;
  metrics: GatewayMetrics;
  log: Logger;
  alertToken?: string | undefined;
}) {
  const recent: ReceivedAlert[] = [];
  const app = new Hono();
  // Alertmanager sends `authorization: Bearer` from its http_config; without a token the gateway is loopback-only.
  if (token)
    app.use(
      '/api/alert',
      tokenAuth(token, {
        name: 'alert token (BEACON_ALERT_TOKEN, else BEACON_ADMIN_TOKEN)',
        role: 'alert-token',
      }),
    );
  app.post('/api/alert', async (c) => {
    const payload = await parseJsonBody(c, alertPayloadSchema);
    const alerts = normalizeAlerts(payload);
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
    return c.json({ received: alerts.length });
  });
  app.get('/api/alerts', userAuth, (c) => {
    const status = c.req.query('status');
    if (status && status !== 'firing' && status !== 'resolved') {
      throw new AppError('bad_request', 'query.status: firing or resolved');
    }
    return c.json({ alerts: [...recent].reverse().filter((a) => !status || a.status === status) });
  });
  return app;
}
