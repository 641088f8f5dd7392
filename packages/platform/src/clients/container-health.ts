import type { ContainerSpec } from '../domain/spec';
import { type ContainerDetail, KERNEL_PORT } from './docker';

export type CheckOutcome = { ok: true } | { ok: false; reason: string };

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
  if (!detail.ip) return { ok: false, reason: 'container has no address' };
  const { port, path } = health === 'http' ? { port: KERNEL_PORT, path: '/health' } : health;
  const res = await fetch(`http://${detail.ip}:${port}${path}`, { signal });
  await res.body?.cancel();
  return res.ok ? { ok: true } : { ok: false, reason: `GET :${port}${path} answered ${res.status}` };
}

/** The check in words, for messages: "GET :7681/health". */
export function describeCheck(spec: ContainerSpec): string {
  const health = spec.health;
  if (health === 'none') return 'no health check';
  if (health === 'docker') return "the image's Docker HEALTHCHECK";
  const { port, path } = health === 'http' ? { port: KERNEL_PORT, path: '/health' } : health;
  return `the health check GET :${port}${path}`;
}
