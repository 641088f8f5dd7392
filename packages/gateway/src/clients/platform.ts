import { AppError } from '@beacon/core';

export interface KernelAddress {
  handle: string;
  owner: string;
  state: string;
  ip: string | null;
}

/** The platform as the gateway needs it: where a handle's kernel is. */
export interface PlatformClient {
  resolve(handle: string): Promise<KernelAddress>;
}

export function createPlatformClient(baseUrl: string, adminToken?: string): PlatformClient {
  const base = baseUrl.replace(/\/$/, '');
  return {
    async resolve(handle) {
      let res: Response;
      try {
        res = await fetch(`${base}/api/containers/${encodeURIComponent(handle)}`, {
          headers: adminToken ? { authorization: `Bearer ${adminToken}` } : {},
          signal: AbortSignal.timeout(5000),
        });
      } catch (err) {
        throw new AppError('unavailable', `platform unreachable at ${base}: ${String(err)}`);
      }
      if (res.status === 404 || res.status === 400)
        throw new AppError('not_found', `no container for handle ${handle}`);
      if (!res.ok) throw new AppError('unavailable', `platform answered ${res.status} for ${handle}`);
      const body = (await res.json()) as {
        handle: string;
        owner: string;
        state: string;
        docker?: { ip: string | null } | null;
      };
      return { handle: body.handle, owner: body.owner, state: body.state, ip: body.docker?.ip ?? null };
    },
  };
}
