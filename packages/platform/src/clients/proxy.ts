import { AppError } from '@beacon/core';

export interface CostRow {
  handle: string | null;
  user: string;
  day: string;
  costUsd: number;
}

interface ProxyKey {
  id: string;
  handle: string | null;
  revokedAt: string | null;
}

/**
 * The proxy's admin API. Keys kernels use, so a container's AI calls are charged to its owner: one live
 * key per handle (minting revokes the handle's earlier keys, so a recycled container's old key stops
 * working). And the AI cost per handle, for the admin page.
 */
export function createProxyClient(proxyUrl: string, adminToken: string | undefined) {
  const base = proxyUrl.replace(/\/$/, '');

  async function call(path: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        ...init,
        headers: {
          'content-type': 'application/json',
          ...(adminToken ? { authorization: `Bearer ${adminToken}` } : {}),
        },
        signal: AbortSignal.timeout(5000),
      });
    } catch (err) {
      throw new AppError('unavailable', 'the proxy is unreachable; is it running?', {}, err);
    }
    if (!res.ok && res.status !== 404)
      throw new AppError(
        'unavailable',
        `the proxy refused ${init.method ?? 'GET'} ${path.split('?')[0]} (${res.status}); is BEACON_ADMIN_TOKEN the same on both?`,
      );
    return res;
  }

  /** Every live key of the handle, whoever it bills (its owner, or a pool's tenant). */
  async function revokeHandle(handle: string) {
    const { keys } = (await (await call(`/api/keys?handle=${encodeURIComponent(handle)}`)).json()) as {
      keys: ProxyKey[];
    };
    for (const key of keys)
      if (key.handle === handle && !key.revokedAt) await call(`/api/keys/${key.id}`, { method: 'DELETE' });
  }

  return {
    async mint(user: string, handle: string): Promise<string> {
      await revokeHandle(handle);
      const res = await call('/api/keys', { method: 'POST', body: JSON.stringify({ user, handle }) });
      return ((await res.json()) as { key: string }).key;
    },
    revokeHandle,

    /** USD per handle, user (the tenant of a pooled container) and UTC day from `from`, from the usage rows. */
    async costByDay(from: Date): Promise<CostRow[]> {
      const query = `groupBy=handle,user,day&from=${encodeURIComponent(from.toISOString())}`;
      return ((await (await call(`/api/usage?${query}`)).json()) as { rows: CostRow[] }).rows;
    },
  };
}

export type ProxyClient = ReturnType<typeof createProxyClient>;
