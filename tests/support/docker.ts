import { afterAll, beforeAll } from 'bun:test';
import { rmSync } from 'node:fs';
import { createLogger, type Logger } from '@beacon/core';
import Docker from 'dockerode';
import { Registry } from 'prom-client';
import { createDockerClient } from '../../packages/platform/src/clients/docker';
import type { Secrets } from '../../packages/platform/src/clients/secrets';
import { loadConfig } from '../../packages/platform/src/config';
import { openDatabase } from '../../packages/platform/src/db';
import { createDeps, type DepsOverrides } from '../../packages/platform/src/deps';
import type { BackoffPolicy } from '../../packages/platform/src/domain/restart-policy';
import type { PlatformEvents } from '../../packages/platform/src/lifecycle/events';
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
  /** A stand-in for the proxy's key API, to see what was minted and revoked. */
  keys?: DepsOverrides['keys'];
  restartPolicy?: BackoffPolicy;
  /** More of the platform's env (BEACON_PROXY_URL). */
  env?: Record<string, string>;
}

/**
 * The tmpfs directory for the key files of the platforms a test file builds; onTestEngine removes it after the
 * file (bun test fires no process exit hooks), and the next file's platforms make it again.
 */
const RUNTIME_DIR = `/dev/shm/beacon-test-parts-${process.pid}`;

/** The platform as deps.ts builds it, on the real engine (or `client`) and an in-memory database. */
export function createPlatformParts(client = createDockerClient(docker), options: PartsOptions = {}) {
  const registry = new Registry();
  const log = options.log ?? createLogger({ service: 'platform', level: 'silent' });
  const policy = options.restartPolicy;
  const config = loadConfig({
    BEACON_DEFAULT_IMAGE: TEST_IMAGE,
    BEACON_DEFAULT_MEMORY_MB: '64',
    BEACON_CONTAINER_TTL: '3600',
    BEACON_SECRETS_RUNTIME_DIR: RUNTIME_DIR,
    ...(policy
      ? {
          BEACON_RESTART_BACKOFF: String(policy.initialMs / 1000),
          BEACON_RESTART_BACKOFF_MAX: String(policy.maxMs / 1000),
        }
      : {}),
    ...options.env,
  });
  const platform = createDeps(
    config,
    { identity: { name: 'platform', version: 'test' }, log, registry },
    {
      docker: client,
      db: openDatabase(':memory:'),
      ...(options.secrets ? { secrets: options.secrets } : {}),
      ...(options.events ? { events: options.events } : {}),
      ...(options.keys ? { keys: options.keys } : {}),
    },
  );
  const { metrics, db, containers, reconcile, logSearch, console, pools } = platform.parts;
  return { registry, metrics, log, db, containers, docker: client, reconcile, logSearch, console, pools };
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
    afterAll(async () => {
      await removeContainers(prefix);
      rmSync(RUNTIME_DIR, { recursive: true, force: true });
    });
  }
  return { available, prefix };
}
