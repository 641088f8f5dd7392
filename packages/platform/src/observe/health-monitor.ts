import type { Logger } from '@beacon/core';
import { type CheckOutcome, checkContainer } from '../clients/container-health';
import type { DockerClient } from '../clients/docker';
import type { ContainerRow } from '../db/schema/containers';
import { type ContainerSpec, containerName, poolOf } from '../domain/spec';
import type { ContainerService } from '../lifecycle/containers';
import type { PlatformEvents } from '../lifecycle/events';
import type { PlatformMetrics } from '../metrics';
import type { StatsCollector } from './stats-collector';

export interface HealthMonitorOptions {
  containers: ContainerService;
  docker: DockerClient;
  metrics: PlatformMetrics;
  log: Logger;
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  stats?: Pick<StatsCollector, 'latest'>;
  events?: Pick<PlatformEvents, 'emit'>;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/**
 * Every interval, checks every tracked container concurrently (each cut at the timeout, so a hung one
 * delays nobody); `retries` consecutive failures or an expired TTL recycle it. When the Docker engine
 * itself is unreachable the cycle is skipped: that says nothing about the containers.
 */
export class HealthMonitor {
  readonly #o: HealthMonitorOptions;
  readonly #failures = new Map<string, number>();
  #timer: Timer | undefined;
  #running: Promise<unknown> | undefined;
  #tracked = new Set<string>();

  constructor(options: HealthMonitorOptions) {
    this.#o = options;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.#running ??= this.checkOnce()
        .catch((err) =>
          this.#o.log.warn({ event: 'monitor.cycle_failed', err: String(err) }, 'health cycle failed'),
        )
        .finally(() => {
          this.#running = undefined;
        });
    }, this.#o.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  failures(handle: string): number {
    return this.#failures.get(handle) ?? 0;
  }

  /** One round. Returns what happened to each container. */
  async checkOnce(): Promise<Map<string, 'healthy' | 'unhealthy' | 'recycled' | 'skipped'>> {
    const { docker, containers, log } = this.#o;
    const outcome = new Map<string, 'healthy' | 'unhealthy' | 'recycled' | 'skipped'>();
    try {
      await docker.ping();
    } catch (err) {
      log.warn(
        { event: 'monitor.docker_unreachable', err: String(err) },
        'Docker unreachable; health checks wait',
      );
      return outcome;
    }
    // Only containers meant to run: one stopped through the API is nobody's concern until it is started.
    const rows = containers
      .list()
      .filter((r) => r.desired === 'running' && (r.state === 'running' || r.state === 'stopped'));
    await Promise.all(rows.map(async (row) => outcome.set(row.handle, await this.#checkOne(row))));
    const now = new Set(rows.map((r) => r.handle));
    for (const handle of this.#tracked) {
      if (!now.has(handle)) {
        this.#o.metrics.healthy.remove({ handle });
        this.#failures.delete(handle);
      }
    }
    this.#tracked = now;
    return outcome;
  }

  async #checkOne(row: ContainerRow): Promise<'healthy' | 'unhealthy' | 'recycled' | 'skipped'> {
    const { docker, containers, metrics, log, timeoutMs, retries, stats, events } = this.#o;
    const handle = row.handle;
    try {
      if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) {
        await containers.recycle(handle, 'ttl');
        this.#failures.delete(handle);
        return 'recycled';
      }
      const signal = AbortSignal.timeout(timeoutMs);
      const timeout = new Promise<CheckOutcome>((resolve) =>
        signal.addEventListener('abort', () =>
          resolve({ ok: false, reason: `no answer within ${timeoutMs} ms` }),
        ),
      );
      const detail = await docker.inspect(containerName(handle));
      if (detail && detail.state !== 'running' && detail.state !== 'restarting') {
        // It exited on its own: restarted with backoff, not counted as a failed check.
        await containers.noticeExited(handle);
        return 'skipped';
      }
      const check = checkContainer(detail, row.spec as ContainerSpec, signal);
      const result = await Promise.race([
        check.catch((err): CheckOutcome => ({ ok: false, reason: String(err) })),
        timeout,
      ]);
      const s = stats?.latest(handle);
      const usage = s
        ? {
            cpuPercent: Number((s.cpuPercent ?? 0).toFixed(1)),
            memory: `${mib(s.memoryBytes)} / ${mib(s.memoryLimitBytes)}`,
          }
        : {};
      if (result.ok) {
        this.#failures.delete(handle);
        metrics.healthy.set({ handle }, 1);
        log.info({ event: 'monitor.health_check', handle, healthy: true, ...usage }, 'healthy');
        return 'healthy';
      }
      const failures = this.failures(handle) + 1;
      this.#failures.set(handle, failures);
      metrics.healthy.set({ handle }, 0);
      metrics.healthCheckFailures.inc({ pool: poolOf(row) });
      log.warn(
        { event: 'monitor.health_check', handle, healthy: false, reason: result.reason, failures, ...usage },
        `health check failed (${failures}/${retries})`,
      );
      if (failures < retries) return 'unhealthy';
      events?.emit('container.unhealthy', handle, row.containerId ?? '', { failures, reason: result.reason });
      this.#failures.delete(handle);
      await containers.recycle(handle, 'unhealthy');
      return 'recycled';
    } catch (err) {
      log.warn({ event: 'monitor.check_failed', handle, err: String(err) }, 'health check or recycle failed');
      return 'skipped';
    }
  }
}
