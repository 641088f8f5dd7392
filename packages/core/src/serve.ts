import type { Hono } from 'hono';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { createLogger } from './logger';
import { collectProcessMetrics, registerServiceInfo } from './metrics';
import type { MetricsExposure } from './service-app';
import { onShutdown, type ShutdownStep } from './shutdown';

export interface ServeOptions {
  host: string;
  port: number;
  log: Logger;
  /** Run after the listener stops accepting, in order. */
  stopSteps?: ShutdownStep[];
  /** Close long-lived streams (SSE) first: the listener's stop waits for open requests to end. */
  closeStreams?: ShutdownStep;
  /** Bun's WebSocket handler (hono/bun createBunWebSocket), when the app upgrades connections. */
  websocket?: Bun.WebSocketHandler<unknown>;
}

/** Bun.serve the app and wire graceful shutdown; used only by each service's main.ts. */
export function serveApp(
  app: Hono,
  { host, port, log, stopSteps = [], closeStreams, websocket }: ServeOptions,
) {
  const options = {
    hostname: host,
    port,
    fetch: (req: Request, srv: Bun.Server<unknown>) => app.fetch(req, { server: srv }),
    idleTimeout: 120,
  };
  let server: Bun.Server<unknown>;
  try {
    server = websocket ? Bun.serve({ ...options, websocket }) : Bun.serve(options);
  } catch (err) {
    // Before any loop starts: a service that cannot listen must not run half-alive.
    log.fatal(
      { event: 'service.listen_failed', host, port, err: String(err) },
      `cannot listen on ${host}:${port}`,
    );
    process.exit(1);
  }
  log.info(
    { event: 'service.started', host, port: server.port },
    `listening on http://${host}:${server.port}`,
  );
  const stop = onShutdown(log, [...(closeStreams ? [closeStreams] : []), () => server.stop(), ...stopSteps]);
  return { server, stop };
}

/** For main.ts: the service's logger, its own registry (process metrics, `<service>_info`) and its /metrics. */
export function serviceBasics(
  service: string,
  version: string,
  config: {
    BEACON_LOG_LEVEL: string;
    BEACON_METRICS_TOKEN?: string | undefined;
    BEACON_METRICS_PATH: string;
    BEACON_METRICS_ENABLED: boolean;
  },
) {
  const log = createLogger({ service, level: config.BEACON_LOG_LEVEL });
  const registry = new Registry();
  // Disabled: nothing is collected and no route answers (the registry still backs the console's counts).
  if (config.BEACON_METRICS_ENABLED) collectProcessMetrics(registry);
  registerServiceInfo(registry, service, version);
  const exposure: MetricsExposure = {
    metricsPath: config.BEACON_METRICS_PATH,
    metricsEnabled: config.BEACON_METRICS_ENABLED,
    ...(config.BEACON_METRICS_TOKEN ? { metricsToken: config.BEACON_METRICS_TOKEN } : {}),
  };
  return { log, registry, exposure };
}
