import { type CostRow, type GatewayAlert, type Logger, SseBroadcaster } from '@beacon/core';
import type { Registry } from 'prom-client';
import type { GatewayClient } from '../clients/gateway';
import type { ProxyClient } from '../clients/proxy';
import {
  type FleetInput,
  firingNow,
  fleetRows,
  lastDays,
  poolOfHandle,
  recentPoints,
  spentOn,
  splitCosts,
} from '../domain/console-rows';
import type { ContainerSpec } from '../domain/spec';
import type { Fleet, FleetHost } from '../fleet';
import type { ContainerService } from '../lifecycle/containers';
import type { History } from './history';
import type { StatsCollector } from './stats-collector';

export interface ConsoleDeps {
  containers: ContainerService;
  stats: Pick<StatsCollector, 'latest'>;
  history?: Pick<History, 'raw'>;
  registry: Registry;
  log: Logger;
  proxy?: Pick<ProxyClient, 'costByDay'>;
  gateway?: Pick<GatewayClient, 'alerts'>;
  /** Several Docker hosts: every host's state, and the other hosts' containers beside this one's. */
  fleet?: Pick<Fleet, 'host' | 'hosts' | 'list'> | undefined;
  pools: string[];
}

const COST_DAYS = 7;
const HOUR = 3_600_000;

interface Sourced<T> {
  at: number;
  data?: T;
  problem?: string;
}

/** Values fetched from another service, kept `ttlMs`; a failure is remembered as the reason they are missing. */
function cached<T>(ttlMs: number, load: () => Promise<T>, log: Logger, what: string) {
  let value: Sourced<T> | undefined;
  return async (): Promise<Sourced<T>> => {
    if (value && Date.now() - value.at < ttlMs) return value;
    try {
      value = { at: Date.now(), data: await load() };
    } catch (err) {
      log.warn({ event: 'console.source_unavailable', what, err: String(err) }, `${what} unavailable`);
      value = { at: Date.now(), problem: `the ${what} did not answer` };
    }
    return value;
  };
}

const missing =
  <T>(problem: string) =>
  async (): Promise<Sourced<T>> => ({ at: Date.now(), problem });

/** Handles whose last health check failed, from the monitor's gauge. */
export async function unhealthyHandles(registry: Registry): Promise<Set<string>> {
  const metric = registry.getSingleMetric('platform_container_healthy');
  const values = metric ? (await metric.get()).values : [];
  return new Set(values.filter((v) => v.value === 0).map((v) => String(v.labels.handle)));
}

/**
 * The other hosts' containers as rows (what the fleet's store says of them: no figures of their own here),
 * those of a host that is not up marked lost; and every host with its state.
 */
async function otherHosts(fleet: ConsoleDeps['fleet'], log: Logger) {
  const none = { inputs: [] as FleetInput[], hostOf: new Map<string, string>(), hosts: [] as FleetHost[] };
  if (!fleet) return { ...none, problem: undefined };
  try {
    const hosts = await fleet.hosts();
    const views = (await fleet.list(hosts)).filter((v) => v.host !== fleet.host);
    const down = new Set(hosts.filter((h) => h.state !== 'up').map((h) => h.host));
    return {
      hosts,
      hostOf: new Map(views.map((v) => [v.handle, v.host])),
      inputs: views.map(
        (v): FleetInput => ({
          handle: v.handle,
          owner: v.owner,
          image: v.image,
          pool: null,
          state: v.state,
          desired: v.desired,
          restarts: v.restarts,
          lastExit: v.lastExit,
          // A lost host's containers are trouble whatever they last said.
          unhealthy: down.has(v.host),
          startedAt: null,
          stats: undefined,
          recent: [],
          costDays: undefined,
        }),
      ),
      problem: undefined,
    };
  } catch (err) {
    log.warn({ event: 'console.fleet_unavailable', err: String(err) }, 'the fleet did not answer');
    return { ...none, problem: 'the fleet database did not answer: only this host is shown' };
  }
}

/**
 * The console's view of the fleet (GET /admin/api/fleet) and its live stream (GET /admin/stream): a fresh
 * snapshot after every stats cycle and container event, sent only while a console is open.
 */
export function createConsole(deps: ConsoleDeps) {
  const { containers, stats, history, registry, log, pools } = deps;
  const sse = new SseBroadcaster({ ringSize: 1 });
  const since = () => new Date(`${lastDays(COST_DAYS)[0]}T00:00:00Z`);
  const { proxy, gateway } = deps;
  const costs = proxy
    ? cached(60_000, () => proxy.costByDay(since()), log, 'proxy')
    : missing<CostRow[]>('no proxy configured (BEACON_PROXY_URL)');
  const alerts = gateway
    ? cached(15_000, () => gateway.alerts(), log, 'gateway')
    : missing<GatewayAlert[]>('no gateway configured (BEACON_GATEWAY_URL)');
  /** Per container id and restart count: when it started (the engine knows; asked once). */
  const started = new Map<string, string | null>();

  async function startedAt(handle: string, id: string | null, restarts: number): Promise<string | null> {
    if (!id) return null;
    const key = `${id}/${restarts}`;
    if (!started.has(key)) {
      const detail = await containers.inspect(handle).catch(() => undefined);
      started.set(key, detail?.startedAt ?? null);
      if (started.size > 10_000) started.delete(started.keys().next().value ?? '');
    }
    return started.get(key) ?? null;
  }

  async function snapshot(now = Date.now()) {
    const days = lastDays(COST_DAYS, now);
    const [unhealthy, cost, alert] = await Promise.all([unhealthyHandles(registry), costs(), alerts()]);
    const costRows: CostRow[] = cost.data ?? [];
    const byHandle = new Map<string, Record<string, number>>();
    for (const r of costRows) {
      if (!r.handle) continue;
      const line = byHandle.get(r.handle) ?? {};
      line[r.day] = (line[r.day] ?? 0) + r.costUsd;
      byHandle.set(r.handle, line);
    }
    const records = containers.list().filter((r) => r.state !== 'gone');
    const listed = new Set(records.map((r) => r.handle));
    const inputs = await Promise.all(
      records.map(async (r) => ({
        handle: r.handle,
        owner: r.owner,
        image: r.image,
        pool: (r.spec as ContainerSpec).pool ?? poolOfHandle(r.handle, pools) ?? null,
        state: r.state,
        desired: r.desired,
        restarts: r.restarts,
        lastExit: r.lastExit ?? null,
        unhealthy: unhealthy.has(r.handle),
        startedAt: await startedAt(r.handle, r.containerId, r.restarts),
        stats: stats.latest(r.handle),
        recent: history ? recentPoints(history.raw(r.handle, now - HOUR, now + 1)) : [],
        costDays: cost.data ? (byHandle.get(r.handle) ?? {}) : undefined,
      })),
    );
    const elsewhere = await otherHosts(deps.fleet, log);
    const rows = [...fleetRows([...inputs, ...elsewhere.inputs], days, now)].map((r) => ({
      ...r,
      host: elsewhere.hostOf.get(r.handle) ?? deps.fleet?.host ?? null,
    }));
    const split = splitCosts(costRows, pools);
    const firing = firingNow<GatewayAlert>(alert.data ?? []);
    return {
      generatedAt: new Date(now).toISOString(),
      totals: {
        containers: rows.length,
        running: rows.filter((r) => r.state === 'running').length,
        trouble: rows.filter((r) => r.trouble).length,
        costTodayUsd: cost.data ? spentOn(costRows, days.at(-1) ?? '') : null,
        // The part of it no listed container spent: keys minted without a handle, containers since removed.
        unattributedTodayUsd: cost.data
          ? spentOn(
              costRows.filter((r) => !r.handle || !listed.has(r.handle)),
              days.at(-1) ?? '',
            )
          : null,
      },
      alerts: { firing, ...(alert.problem ? { problem: alert.problem } : {}) },
      hosts: elsewhere.hosts,
      ...(elsewhere.problem ? { hostsProblem: elsewhere.problem } : {}),
      costs: {
        days,
        tenants: split.tenants,
        unattributed: split.unattributed,
        ...(cost.problem
          ? { problem: cost.problem }
          : deps.proxy
            ? {}
            : { problem: 'no proxy configured (BEACON_PROXY_URL)' }),
      },
      containers: rows,
    };
  }

  let scheduled: Timer | undefined;
  /** A new snapshot to every open console, at most one per 250 ms. */
  function push() {
    if (scheduled || sse.clientCount === 0) return;
    scheduled = setTimeout(async () => {
      scheduled = undefined;
      try {
        sse.broadcast('fleet', await snapshot());
      } catch (err) {
        log.warn({ event: 'console.snapshot_failed', err: String(err) }, 'console not updated');
      }
    }, 250);
  }

  return {
    snapshot,
    push,
    /** A console connects: it gets a snapshot at once, then one after each change. */
    connect(signal: AbortSignal) {
      const res = sse.connect(undefined, signal);
      setTimeout(push, 0);
      return res;
    },
    close() {
      clearTimeout(scheduled);
      sse.close();
    },
  };
}

export type Console = ReturnType<typeof createConsole>;
