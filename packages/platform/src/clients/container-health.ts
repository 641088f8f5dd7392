import { AppError } from '@beacon/core';
import { type ContainerSpec, containerName } from '../domain/spec';
import { addressOf, KERNEL_PORT } from './container-config';
import type { ContainerDetail, DockerClient } from './docker';

export type CheckOutcome = { ok: true } | { ok: false; reason: string };

/** Where an `http` or `{port, path}` check asks. */
export const httpTarget = (health: Exclude<ContainerSpec['health'], 'none' | 'docker'>) =>
  health === 'http' ? { port: KERNEL_PORT, path: '/health' } : health;

/** One container's health check, as its `health` setting says, on the container's own address. */
export async function checkContainer(
  detail: ContainerDetail | undefined,
  spec: ContainerSpec,
  signal: AbortSignal,
  /** strict: a Docker HEALTHCHECK still `starting` is not healthy yet (waiting for a new container). */
  { strict = false }: { strict?: boolean } = {},
): Promise<CheckOutcome> {
  if (!detail) return { ok: false, reason: 'container is missing' };
  if (detail.state !== 'running') return { ok: false, reason: `container is ${detail.state}` };
  const health = spec.health;
  if (health === 'none') return { ok: true };
  if (health === 'docker') {
    if (detail.health === 'unhealthy') return { ok: false, reason: 'docker HEALTHCHECK reports unhealthy' };
    if (strict && detail.health === 'starting')
      return { ok: false, reason: 'docker HEALTHCHECK is starting' };
    return { ok: true };
  }
  const { port, path } = httpTarget(health);
  const address = addressOf(detail, port);
  if (!address) return { ok: false, reason: 'container has no address' };
  // Never followed: a container answering 302 must not make the platform fetch another address.
  const res = await fetch(`http://${address}${path}`, { signal, redirect: 'manual' });
  await res.body?.cancel();
  return res.ok ? { ok: true } : { ok: false, reason: `GET :${port}${path} answered ${res.status}` };
}

/** The check in words, for messages: "GET :7681/health". */
export function describeCheck(spec: ContainerSpec): string {
  const health = spec.health;
  if (health === 'none') return 'no health check';
  if (health === 'docker') return "the image's Docker HEALTHCHECK";
  const { port, path } = httpTarget(health);
  return `the health check GET :${port}${path}`;
}

/**
 * Until a new container's health check passes: a 504 at the deadline, a 502 if it exits first (the
 * container is kept either way, for its logs).
 */
export async function untilServing(
  docker: Pick<DockerClient, 'inspect'>,
  handle: string,
  spec: ContainerSpec,
  timeoutMs: number,
): Promise<void> {
  if (spec.health === 'none') return;
  const deadline = Date.now() + timeoutMs;
  let last: CheckOutcome = { ok: false, reason: 'not checked yet' };
  while (Date.now() < deadline) {
    const detail = await docker.inspect(containerName(handle));
    if (detail?.exit)
      throw new AppError(
        'bad_gateway',
        `${handle} exited with code ${detail.exit.code}${detail.exit.oomKilled ? ' (OOM-killed)' : ''} before ${describeCheck(spec)} passed; the container is kept: see GET /api/containers/${handle}/logs`,
      );
    const signal = AbortSignal.timeout(Math.max(100, Math.min(2000, deadline - Date.now())));
    last = await checkContainer(detail, spec, signal, { strict: true }).catch(
      (err): CheckOutcome => ({ ok: false, reason: String(err) }),
    );
    if (last.ok) return;
    await Bun.sleep(25);
  }
  throw new AppError(
    'timeout',
    `${handle} was created but ${describeCheck(spec)} did not pass within ${timeoutMs / 1000} s (${last.ok ? '' : last.reason}); the container is kept: see GET /api/containers/${handle}/logs, or create with ?wait=false`,
  );
}
