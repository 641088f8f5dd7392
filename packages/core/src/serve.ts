import type { Hono } from 'hono';
import type { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';
import { isLoopback } from './config';
import type { Probe, ServiceIdentity } from './health';
import { createLogger } from './logger';
import { collectProcessMetrics, registerServiceInfo } from './metrics';
import type { MetricsExposure } from './service-app';
import { onShutdown, type ShutdownStep } from './shutdown';
import { createTracing, type SpanProcessor, type Tracing } from './tracing';

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

/**
 * What every service's createDeps returns: its app, what starts once it listens, how it stops, and its wired
 * parts (for tests). main.ts hands it to serveService.
 */
export interface Service<Parts = unknown> {
  app: Hono;
  /** After the listener is up (a service that cannot listen exits before any loop starts). */
  start(): void | Promise<void>;
  stop: {
    /** Long-lived streams (SSE), closed first: the listener's stop waits for open requests to end. */
    streams?: ShutdownStep;
    /** After the listener has stopped, in order. */
    steps: ShutdownStep[];
  };
  parts: Parts;
}

/** What createDeps takes besides its config: serviceBasics' logger, registry and what it reports to. */
export interface ServiceBasics {
  identity: ServiceIdentity;
  log: Logger;
  registry: Registry;
  exposure?: MetricsExposure;
  tracing?: Tracing;
  reporting?: Reporting;
}

/** main.ts: listen, then start the service's loops; SIGTERM/SIGINT stop it within the deadline. */
export async function serveService(
  service: Pick<Service, 'app' | 'start' | 'stop'>,
  options: Omit<ServeOptions, 'stopSteps' | 'closeStreams'>,
) {
  const served = serveApp(service.app, {
    ...options,
    stopSteps: service.stop.steps,
    ...(service.stop.streams ? { closeStreams: service.stop.streams } : {}),
  });
  await service.start();
  return served;
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
  // A promise nobody awaited, or a throw in a callback, is logged; the service keeps serving.
  process.on('unhandledRejection', (err) =>
    log.error({ event: 'process.unhandled_rejection', err }, 'a promise failed with nobody waiting for it'),
  );
  process.on('uncaughtException', (err) =>
    log.error({ event: 'process.uncaught_exception', err }, 'an exception escaped its handler'),
  );
  let server: Bun.Server<unknown>;
  try {
    server = websocket ? Bun.serve({ ...options, websocket }) : Bun.serve(options);
  } catch (err) {
    // Before any loop starts: a service that cannot listen must not run half-alive.
    log.fatal(
      { event: 'service.listen_failed', host, port, err: String(err) },
      `cannot listen on ${host}:${port}`,
    );
    // The operator's only clue: stdout is written synchronously (logger.ts), so it is out before the exit.
    process.exitCode = 1;
    log.flush(() => process.exit(1));
    throw err;
  }
  log.info(
    { event: 'service.started', host, port: server.port },
    `listening on http://${host}:${server.port}`,
  );
  const stop = onShutdown(log, [...(closeStreams ? [closeStreams] : []), () => server.stop(), ...stopSteps]);
  return { server, stop };
}

/** What a service reports to (Loki, the trace collector): their probes, and their last flush at shutdown. */
export interface Reporting {
  probes: Probe[];
  stopSteps: ShutdownStep[];
}

/** Tests build a service's deps without reporting anywhere. */
export const NOT_REPORTING: Reporting = { probes: [], stopSteps: [] };

/** How often a service with BEACON_LOKI_URL checks that Loki takes its logs. */
const LOKI_CHECK_MS = 15_000;

/**
 * Loki's reachability, checked in the background (pino-loki drops a failed push silently): each failed
 * check counts, and the probe says degraded while the last one failed. Logging never waits on it.
 */
function watchLoki(url: string, service: string, registry: Registry) {
  const failures = new Counter({
    name: `${service}_loki_push_failures_total`,
    help: 'Checks of Loki (every 15 s while BEACON_LOKI_URL is set) that failed: logs pushed meanwhile are lost to Loki',
    registers: [registry],
  });
  let problem: string | undefined;
  const check = async () => {
    try {
      const res = await fetch(`${url.replace(/\/$/, '')}/ready`, {
        signal: AbortSignal.timeout(3000),
      });
      problem = res.ok ? undefined : `Loki answered ${res.status}`;
    } catch {
      problem = 'Loki unreachable';
    }
    if (problem) failures.inc();
  };
  void check();
  const timer = setInterval(check, LOKI_CHECK_MS);
  timer.unref();
  const probe: Probe = {
    name: 'loki',
    check: async () =>
      problem ? { status: 'degraded', message: `logs not reaching Loki: ${problem}` } : undefined,
  };
  return { probe, stop: () => clearInterval(timer) };
}

/**
 * For main.ts: the service's logger (to Loki too with BEACON_LOKI_URL), its tracing (exported with
 * BEACON_OTLP_URL), its own registry (process metrics, `<service>_info`) and its /metrics, and the probes
 * of what it reports to.
 */
export function serviceBasics(
  service: string,
  version: string,
  config: {
    BEACON_LOG_LEVEL: string;
    BEACON_METRICS_TOKEN?: string | undefined;
    BEACON_METRICS_PATH: string;
    BEACON_METRICS_ENABLED: boolean;
    BEACON_LOKI_URL?: string | undefined;
    BEACON_OTLP_URL?: string | undefined;
    BEACON_COMMIT?: string | undefined;
    BEACON_ALLOWED_HOSTS: string[];
    BEACON_HOST: string;
    BEACON_ADMIN_TOKEN?: string | undefined;
    BEACON_ALLOWED_ORIGINS: string[];
  },
  { spanProcessors = [] }: { spanProcessors?: SpanProcessor[] } = {},
) {
  const log = createLogger({ service, level: config.BEACON_LOG_LEVEL, lokiUrl: config.BEACON_LOKI_URL });
  const registry = new Registry();
  // Disabled: nothing is collected and no route answers (the registry still backs the console's counts).
  if (config.BEACON_METRICS_ENABLED) collectProcessMetrics(registry);
  registerServiceInfo(registry, service, version);
  const metricsToken =
    config.BEACON_METRICS_TOKEN ?? (isLoopback(config.BEACON_HOST) ? undefined : config.BEACON_ADMIN_TOKEN);
  const exposure: MetricsExposure = {
    metricsPath: config.BEACON_METRICS_PATH,
    metricsEnabled: config.BEACON_METRICS_ENABLED,
    // Bound beyond loopback, /metrics (every user's cost in the proxy's) needs a token: its own, else the admin's.
    ...(metricsToken ? { metricsToken } : {}),
    allowedHosts: config.BEACON_ALLOWED_HOSTS,
    allowedOrigins: config.BEACON_ALLOWED_ORIGINS,
  };
  const exportFailures = new Counter({
    name: `${service}_trace_export_failures_total`,
    help: 'Batches of spans the OTLP collector (BEACON_OTLP_URL) did not take',
    registers: [registry],
  });
  const tracing = createTracing({
    service,
    version,
    otlpUrl: config.BEACON_OTLP_URL,
    processors: spanProcessors,
    onExportFailed: () => exportFailures.inc(),
  });
  const loki = config.BEACON_LOKI_URL ? watchLoki(config.BEACON_LOKI_URL, service, registry) : undefined;
  const reporting: Reporting = {
    probes: [tracing.probe, loki?.probe].filter((p): p is Probe => p !== undefined),
    /** At shutdown, after the service's own steps: the last spans and log lines go out. */
    stopSteps: [() => loki?.stop(), () => tracing.shutdown(), () => log.flush()],
  };
  const identity: ServiceIdentity = {
    name: service,
    version,
    ...(config.BEACON_COMMIT ? { commit: config.BEACON_COMMIT } : {}),
  };
  return { identity, log, registry, exposure, tracing, reporting } satisfies ServiceBasics;
}
