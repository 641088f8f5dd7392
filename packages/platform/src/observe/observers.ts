import type { ServiceBasics } from '@beacon/core';
import { createCgroupReader } from '../clients/cgroup';
import type { DockerClient } from '../clients/docker';
import type { GatewayClient } from '../clients/gateway';
import type { ProxyClient } from '../clients/proxy';
import type { PlatformConfig } from '../config';
import type { PlatformDb } from '../db';
import type { Fleet } from '../fleet';
import type { ContainerService } from '../lifecycle/containers';
import type { PlatformEvents } from '../lifecycle/events';
import type { PlatformMetrics } from '../metrics';
import { createConsole } from './console-view';
import { HealthMonitor } from './health-monitor';
import { createHistory } from './history';
import { StatsCollector } from './stats-collector';

/** The stats collector, history, health monitor and console: each stats cycle is recorded, then pushed. */
export function createObservers(
  config: PlatformConfig,
  deps: Pick<ServiceBasics, 'log' | 'registry'> & {
    metrics: PlatformMetrics;
    docker: DockerClient;
    containers: ContainerService;
    events: PlatformEvents;
    db: PlatformDb;
    proxy: ProxyClient | undefined;
    gateway: GatewayClient;
    /** Several Docker hosts: the console shows the whole fleet. */
    fleet?: Pick<Fleet, 'host' | 'hosts' | 'list'>;
  },
) {
  const { log, metrics, docker, containers, events, db } = deps;
  const history = createHistory({
    db,
    log,
    rawMs: config.BEACON_HISTORY_RAW_HOURS * 3_600_000,
    aggregateMs: config.BEACON_HISTORY_DAYS * 86_400_000,
  });
  const stats = new StatsCollector({
    docker,
    metrics,
    log,
    intervalMs: config.BEACON_STATS_INTERVAL * 1000,
    cgroup: createCgroupReader(),
    streams: config.BEACON_STATS_STREAM,
  });
  const consoleView = createConsole({
    ...deps,
    stats,
    history,
    pools: config.BEACON_POOLS.map((p) => p.name),
    ...(deps.proxy ? { proxy: deps.proxy } : {}),
  });
  stats.afterCycle((at, collected) => history.record(at, collected));
  stats.afterCycle(() => consoleView.push());
  events.listen(() => consoleView.push());
  const monitor = new HealthMonitor({
    containers,
    docker,
    metrics,
    log,
    stats,
    events,
    intervalMs: config.BEACON_HEALTH_INTERVAL * 1000,
    timeoutMs: config.BEACON_HEALTH_TIMEOUT * 1000,
    retries: config.BEACON_HEALTH_RETRIES,
  });
  return {
    stats,
    history,
    console: consoleView,
    start() {
      history.start();
      stats.start();
      monitor.start();
    },
    stopSteps: [() => monitor.stop(), () => stats.stop(), () => history.stop()],
  };
}
