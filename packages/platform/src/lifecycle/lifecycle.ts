import { availableParallelism, totalmem } from 'node:os';
import { basename } from 'node:path';
import { type Logger, NATS_CREDS_FILE, type NatsAuthority, natsAuthority } from '@beacon/core';
import type { DockerClient } from '../clients/docker';
import type { ProxyClient } from '../clients/proxy';
import type { Secrets } from '../clients/secrets';
import type { PlatformConfig } from '../config';
import type { PlatformDb } from '../db';
import type { PlatformMetrics } from '../metrics';
import { type ContainerServiceDeps, createContainerService } from './containers';
import { DockerEventWatcher } from './engine-events';
import type { PlatformEvents } from './events';
import { reconcile } from './reconcile';
import { createReleases } from './releases';

export interface LifecycleParts {
  log: Logger;
  metrics: PlatformMetrics;
  docker: DockerClient;
  db: PlatformDb;
  secrets: Secrets;
  events: PlatformEvents;
  /** The proxy's key API: a container's key is revoked with its container. */
  keys?: Pick<ProxyClient, 'revokeHandle'> | undefined;
  /** Mints a container's proxy key (for a pooled container, billed to its tenant). */
  mintKey?: ContainerServiceDeps['mintKey'];
}

/** The env every container gets besides its secrets: where NATS, the proxy and the trace collector are. */
export function containerEnv(config: PlatformConfig) {
  const nats = config.BEACON_KERNEL_NATS_URL ?? config.BEACON_NATS_URL;
  // Only where the platform has a proxy to mint keys on: a URL without a key would be of no use.
  const proxy = config.BEACON_PROXY_URL && (config.BEACON_KERNEL_PROXY_URL ?? config.BEACON_PROXY_URL);
  const otlp = config.BEACON_KERNEL_OTLP_URL ?? config.BEACON_OTLP_URL;
  return (handle: string) => ({
    BEACON_HANDLE: handle,
    ...(nats ? { BEACON_NATS_URL: nats } : {}),
    ...(proxy ? { BEACON_PROXY_URL: proxy } : {}),
    ...(otlp ? { BEACON_OTLP_URL: otlp } : {}),
  });
}

/** The engine and the containers' lifecycle on it: commands, records, exits, releases of what a container held. */
export function createLifecycle(
  config: PlatformConfig,
  { log, metrics, docker, db, secrets, events, keys, mintKey }: LifecycleParts,
) {
  const releases = createReleases({ db, log, secrets, revokeKeys: keys?.revokeHandle });
  const authority = config.BEACON_NATS_AUTH_DIR
    ? natsAuthority(config.BEACON_NATS_AUTH_DIR, { kernelTtlSeconds: config.BEACON_NATS_CREDS_TTL })
    : undefined;
  const defaults = {
    image: config.BEACON_DEFAULT_IMAGE,
    ...(config.BEACON_CONTAINER_NETWORK ? { network: config.BEACON_CONTAINER_NETWORK } : {}),
    ...(config.BEACON_KERNEL_PUBLISH_IP ? { publishOn: config.BEACON_KERNEL_PUBLISH_IP } : {}),
    memoryMb: config.BEACON_DEFAULT_MEMORY_MB,
    cpus: config.BEACON_DEFAULT_CPUS,
    pidsLimit: config.BEACON_DEFAULT_PIDS_LIMIT,
    ttlSeconds: config.BEACON_CONTAINER_TTL,
    // Unset: the host's memory less 1 GiB for the host itself, and its cores.
    maxMemoryMb: config.BEACON_MAX_MEMORY_MB ?? Math.max(64, Math.floor(totalmem() / 1048576) - 1024),
    maxCpus: config.BEACON_MAX_CPUS ?? availableParallelism(),
    maxPidsLimit: Math.max(config.BEACON_MAX_PIDS_LIMIT, config.BEACON_DEFAULT_PIDS_LIMIT),
    allowedCapabilities: config.BEACON_ALLOWED_CAPABILITIES,
  };
  const containers = createContainerService({
    docker,
    db,
    metrics,
    log,
    events,
    secrets,
    releases,
    env: containerEnv(config),
    ...(mintKey ? { mintKey } : {}),
    // With Beacon's NATS accounts, each container gets credentials for its own subjects only.
    ...(authority ? { natsCreds: authority.kernelCreds } : {}),
    defaults,
    restartPolicy: {
      initialMs: config.BEACON_RESTART_BACKOFF * 1000,
      maxMs: config.BEACON_RESTART_BACKOFF_MAX * 1000,
    },
    readyTimeoutMs: config.BEACON_CREATE_TIMEOUT * 1000,
    stopGraceMs: config.BEACON_ENGINE_STOP_GRACE * 1000,
  });
  const reconcileOnce = (atStart = false) =>
    reconcile({ docker, db, log, defaults, containers, secretHandles: secrets.handles }, { atStart });
  const watcher = new DockerEventWatcher({
    docker,
    metrics,
    log,
    events,
    reconcile: () => reconcileOnce(),
    onState: (handle, action, id, stream) => containers.applyEngineAction(handle, action, id, stream),
    instance: config.BEACON_INSTANCE,
  });
  const natsRenewal = credsRenewal(authority, secrets, log);
  return { releases, containers, reconcile: reconcileOnce, watcher, natsRenewal };
}

/**
 * Every third of their lifetime, each container's NATS credentials are written anew; the kernel reads the file
 * when the server ends its expired session. A container that is gone has no file to renew: its credentials die.
 */
function credsRenewal(
  authority: NatsAuthority | undefined,
  secrets: Pick<Secrets, 'handles' | 'renew'>,
  log: Logger,
) {
  let timer: Timer | undefined;
  const renew = async () => {
    if (!authority) return;
    for (const handle of await secrets.handles())
      await authority
        .kernelCreds(handle)
        .then((creds) => secrets.renew(handle, basename(NATS_CREDS_FILE), creds))
        .catch((err) =>
          log.warn(
            { event: 'nats.creds_renewal_failed', handle, err: String(err) },
            'NATS credentials not renewed',
          ),
        );
  };
  return {
    renew,
    start() {
      if (authority) timer = setInterval(() => void renew(), (authority.kernelTtlSeconds * 1000) / 3);
    },
    stop: () => clearInterval(timer),
  };
}
