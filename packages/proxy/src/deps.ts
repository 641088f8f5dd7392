import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createAuditTrail,
  createTracing,
  databaseProbe,
  describeZodError,
  diskProbe,
  langfuseOf,
  langfuseProbe,
  NOT_REPORTING,
  type Service,
  type ServiceBasics,
} from '@beacon/core';
import { createApp } from './app';
import { createGenerations } from './clients/langfuse';
import { createUpstreamClient } from './clients/upstream';
import type { ProxyConfig } from './config';
import { openDatabase, type ProxyStore } from './db';
import { createRoutes, defaultRouting, type RoutingFile, routingFileSchema } from './domain/routing';
import { createAuthenticator } from './forward/authenticate';
import { createForwarder } from './forward/forwarder';
import { createPassthrough } from './forward/passthrough';
import { createKeyStore } from './keys';
import { createMetrics } from './metrics';
import { createPriceBook, loadOverrides } from './prices';
import { createQuotaGuard } from './quotas/guard';
import { createRecorder } from './recorder';
import { createResponseOwners } from './response-owners';
import { createUsageStore } from './usage-store';

/** The routing table: BEACON_ROUTES_FILE, or the BEACON_UPSTREAM_* variables as one upstream per kind. */
function loadRouting(config: ProxyConfig): RoutingFile {
  const file = config.BEACON_ROUTES_FILE;
  if (!file)
    return defaultRouting(
      { url: config.BEACON_UPSTREAM_OPENAI_URL, key: config.BEACON_UPSTREAM_OPENAI_KEY },
      { url: config.BEACON_UPSTREAM_ANTHROPIC_URL, key: config.BEACON_UPSTREAM_ANTHROPIC_KEY },
    );
  const parsed = routingFileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`${file}: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

/** Everything the proxy runs, built from its config; main.ts serves it, tests build the same. */
export function createDeps(
  config: ProxyConfig,
  basics: ServiceBasics,
  {
    store = openDatabase(
      join(config.BEACON_DATA_DIR, 'proxy.sqlite'),
      config.BEACON_DATABASE_URL,
      basics.log,
    ),
  }: { store?: ProxyStore } = {},
) {
  const {
    log,
    registry,
    // serviceBasics' tracing carries Langfuse's processor when it is configured.
    tracing = createTracing({ service: 'proxy', version: 'dev' }),
    reporting = NOT_REPORTING,
  } = basics;
  const langfuse = langfuseOf(config);
  const generations = langfuse
    ? createGenerations(tracing.provider, config.BEACON_LANGFUSE_CAPTURE_PROMPTS)
    : undefined;
  const metrics = createMetrics(registry);
  const usage = createUsageStore(store, log);
  const keys = createKeyStore(store);
  const quotas = createQuotaGuard(store, usage, metrics, log);
  const prices = createPriceBook(loadOverrides(config.BEACON_PRICES_FILE));
  const recorder = createRecorder(usage, metrics, prices, log, config.BEACON_METRICS_MAX_USERS);
  const routes = createRoutes(loadRouting(config));
  const upstream = createUpstreamClient(routes, config.BEACON_UPSTREAM_TIMEOUT * 1000, log, {
    failover: (name) => metrics.upstreamFailovers.inc({ upstream: name }),
  });
  const authenticator = createAuthenticator(keys, log);
  const owners = createResponseOwners(store, log);
  /**
   * Calls a crash cut off are closed as interrupted and charged what they reserved. On SQLite (one replica)
   * every pending row at start is one, and the budgets they touch are counted again from the usage table
   * (recount); on a shared database only rows older than the longest a call can run (the upstream timeout,
   * plus a minute), looked for every minute by each replica, are charged to the spend rows.
   */
  const shared = store.dialect === 'postgres';
  const staleAfterMs = config.BEACON_UPSTREAM_TIMEOUT * 1000 + 60_000;
  async function closeInterrupted() {
    const byUser = await usage.closeInterrupted(new Date(Date.now() - (shared ? staleAfterMs : 0)));
    if (shared) {
      for (const [user, reserved] of byUser) await quotas.charge(user, reserved);
      const recounted = await quotas.recountOrphans();
      if (recounted.length > 0)
        log.warn(
          { event: 'proxy.spend_recounted', users: recounted },
          'reservations no call in flight accounts for: spend counted again from usage',
        );
    }
    if (byUser.size > 0)
      log.warn(
        {
          event: 'proxy.calls_interrupted',
          users: byUser.size,
          reservedUsd: [...byUser.values()].reduce((a, b) => a + b, 0),
        },
        'calls were in flight when a proxy stopped; charged what they reserved',
      );
    return byUser;
  }
  let sweep: Timer | undefined;
  const parts = {
    ...basics,
    adminToken: config.BEACON_ADMIN_TOKEN,
    metrics,
    store,
    usage,
    keys,
    quotas,
    prices,
    recorder,
    ai: {
      forwarder: createForwarder({
        upstream,
        authenticator,
        quotas,
        recorder,
        metrics,
        log,
        tracing,
        prices,
        owners,
        generations,
        defaultMaxTokens: config.BEACON_DEFAULT_MAX_TOKENS,
      }),
      passthrough: createPassthrough({ authenticator, owners, upstream, log }),
      authenticator,
      usage,
      prices,
      routes,
    },
    audit: createAuditTrail(store, log),
    probes: [
      diskProbe(config.BEACON_DATA_DIR),
      databaseProbe(store, 'database', async () => {
        await usage.check();
        quotas.check();
      }),
      ...(langfuse ? [langfuseProbe(langfuse.url)] : []),
      ...reporting.probes,
    ],
  };
  return {
    app: createApp({ ...parts, ...basics.exposure }),
    parts,
    /** Migrations applied, the other replicas heard, crash leftovers charged. */
    async start() {
      await Promise.all([store.ready, keys.ready, quotas.ready]);
      const interrupted = await closeInterrupted();
      const orphans = shared ? [] : await quotas.recount(interrupted);
      if (orphans.length > 0)
        log.warn(
          { event: 'proxy.reservations_released', users: orphans },
          'reservations of calls cut off before their pending row were given back',
        );
      if (shared)
        sweep = setInterval(
          () =>
            closeInterrupted().catch((err) =>
              log.error({ event: 'proxy.sweep_failed', err: String(err) }, 'interrupted calls not closed'),
            ),
          60_000,
        );
    },
    /** After the listener has drained: the last usage rows are written before the process exits. */
    stop: {
      steps: [() => clearInterval(sweep), usage.flush, owners.flush, store.close, ...reporting.stopSteps],
    },
  } satisfies Service<typeof parts>;
}
