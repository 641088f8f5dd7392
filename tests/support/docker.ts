import { afterAll, beforeAll } from 'bun:test';
import { createLogger, type Logger } from '@beacon/core';
import Docker from 'dockerode';
import { Registry } from 'prom-client';
import { createDockerClient } from '../../packages/platform/src/clients/docker';
import { createContainerService } from '../../packages/platform/src/containers';
import { openDatabase, type PlatformDb } from '../../packages/platform/src/db';
import type { BackoffPolicy } from '../../packages/platform/src/domain/restart-policy';
import type { PlatformEvents } from '../../packages/platform/src/events';
import { createMetrics } from '../../packages/platform/src/metrics';
import { reconcile } from '../../packages/platform/src/reconcile';
import type { Releases } from '../../packages/platform/src/releases';
import type { Secrets } from '../../packages/platform/src/secrets';
import { hasDocker } from './deps';

// Bump the tag when build.sh changes, so machines with an older image build the new one.
export const TEST_IMAGE = 'beacon-test:v2';
export const docker = new Docker();

/** Build the busybox test image once per machine (distro/images/test/build.sh). */
export async function ensureTestImage(): Promise<void> {
  try {
    await docker.getImage(TEST_IMAGE).inspect();
    return;
  } catch {}
  const proc = Bun.spawn(['bash', 'distro/images/test/build.sh', TEST_IMAGE], {
    stderr: 'pipe',
    stdout: 'pipe',
  });
  if ((await proc.exited) !== 0)
    throw new Error(`test image build failed: ${await new Response(proc.stderr).text()}`);
}

/** A unique handle prefix per test file, so parallel runs and leftovers never collide. */
export function handlePrefix(name: string): string {
  return `t${Math.random().toString(36).slice(2, 7)}-${name}`;
}

/** Remove every container whose handle starts with `prefix` (managed or not). */
export async function removeContainers(prefix: string): Promise<void> {
  const all = await docker.listContainers({ all: true });
  await Promise.all(
    all
      .filter((c) => c.Names.some((n) => n.startsWith(`/beacon-${prefix}`) || n.startsWith(`/${prefix}`)))
      .map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {}),
      ),
  );
}

export interface PartsOptions {
  log?: Logger;
  secrets?: Secrets;
  events?: PlatformEvents;
  releases?: (db: PlatformDb, log: Logger) => Releases;
  mintKey?: (handle: string, owner: string) => Promise<string>;
  restartPolicy?: BackoffPolicy;
}

/** A platform's container layer on the real engine and an in-memory database. */
export function createPlatformParts(client = createDockerClient(docker), options: PartsOptions = {}) {
  const registry = new Registry();
  const metrics = createMetrics(registry);
  const log = options.log ?? createLogger({ service: 'platform', level: 'silent' });
  const db = openDatabase(':memory:');
  const defaults = { image: TEST_IMAGE, memoryMb: 64, cpus: 1, ttlSeconds: 3600 };
  const containers = createContainerService({
    docker: client,
    db,
    metrics,
    log,
    defaults,
    ...(options.secrets ? { secrets: options.secrets } : {}),
    ...(options.events ? { events: options.events } : {}),
    ...(options.releases ? { releases: options.releases(db, log) } : {}),
    ...(options.mintKey ? { mintKey: options.mintKey } : {}),
    ...(options.restartPolicy ? { restartPolicy: options.restartPolicy } : {}),
  });
  const reconcileOnce = (atStart = false) =>
    reconcile({ docker: client, db, log, defaults, containers }, { atStart });
  return { registry, metrics, log, db, containers, docker: client, reconcile: reconcileOnce };
}

/** `docker exec` in a managed container; returns stdout. */
export async function execIn(handle: string, ...cmd: string[]): Promise<string> {
  const proc = Bun.spawn(['docker', 'exec', `beacon-${handle}`, ...cmd], { stdout: 'pipe', stderr: 'pipe' });
  const out = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0)
    throw new Error(`exec ${cmd.join(' ')}: ${await new Response(proc.stderr).text()}`);
  return out;
}

/**
 * The preamble of a test file on the real engine: whether one answers (under CI it must), the file's handle
 * prefix, the test image built before its tests and every container of the prefix removed after.
 */
export async function onTestEngine(name: string) {
  const available = await hasDocker();
  const prefix = handlePrefix(name);
  if (available) {
    beforeAll(ensureTestImage);
    afterAll(() => removeContainers(prefix));
  }
  return { available, prefix };
}
