import { AppError, containerAnswer, createJsonClient } from '@beacon/core';

export interface KernelAddress {
  handle: string;
  owner: string;
  state: string;
  /** Where the kernel's HTTP port answers ("host:port"). */
  address: string | null;
  /** What the kernel's HTTP port asks of its caller. */
  token: string | null;
}

/** The platform as the gateway needs it: where a handle's kernel is. */
export interface PlatformClient {
  resolve(handle: string): Promise<KernelAddress>;
  /** Drop what is known of a handle (its container changed: recycled, stopped, gone). */
  forget(handle: string): void;
  /** For /ready: the platform answers (a dispatch asks it where the kernel is). */
  check(): Promise<void>;
}

/**
 * Running containers are remembered this long: a dispatch should not cost a platform round trip.
 * Container events make the gateway forget a handle at once, so the TTL only bounds a missed event.
 */
const CACHE_MS = 5000;

export function createPlatformClient(baseUrl: string, adminToken?: string): PlatformClient {
  const platform = createJsonClient({ name: 'platform', baseUrl, token: adminToken });
  const cache = new Map<string, { at: number; address: KernelAddress }>();
  return {
    forget: (handle) => cache.delete(handle),
    async check() {
      const res = await platform.send('/health/live', { timeoutMs: 2000 });
      if (!res.ok) throw new Error(`the platform answered ${res.status}`);
    },
    async resolve(handle) {
      const hit = cache.get(handle);
      if (hit && Date.now() - hit.at < CACHE_MS) return hit.address;
      const res = await platform.send(`/api/containers/${encodeURIComponent(handle)}`);
      if (res.status === 404) throw new AppError('not_found', `no container for handle ${handle}`);
      // The platform's own words for a refused handle (e.g. "handle: is reserved").
      if (res.status === 400)
        throw new AppError(
          'bad_request',
          (await platform.saidIn(res)) ?? `handle ${handle} was refused by the platform`,
        );
      if (!res.ok) throw new AppError('unavailable', `platform answered ${res.status} for ${handle}`);
      const body = await platform.parse(res, containerAnswer, 'GET /api/containers/:handle');
      const address = {
        handle: body.handle,
        owner: body.owner,
        state: body.state,
        address: body.docker?.address ?? (body.docker?.ip ? `${body.docker.ip}:7681` : null),
        token: body.kernelToken ?? null,
      };
      if (address.state === 'running' && address.address) cache.set(handle, { at: Date.now(), address });
      else cache.delete(handle);
      return address;
    },
  };
}
