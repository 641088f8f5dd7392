import {
  AppError,
  type CostRow,
  costsAnswer,
  createJsonClient,
  keysAnswer,
  mintedKeyAnswer,
} from '@beacon/core';

export type { CostRow } from '@beacon/core';

/**
 * The proxy's admin API. Keys kernels use, so a container's AI calls are charged to its owner: one live
 * key per handle (minting revokes the handle's earlier keys, so a recycled container's old key stops
 * working). And the AI cost per handle, for the admin page.
 */
export function createProxyClient(proxyUrl: string, adminToken: string | undefined) {
  const proxy = createJsonClient({ name: 'proxy', baseUrl: proxyUrl, token: adminToken });
  const refused = (method: string, path: string, status: number) =>
    new AppError(
      'unavailable',
      `the proxy refused ${method} ${path.split('?')[0]} (${status}); is BEACON_ADMIN_TOKEN the same on both?`,
    );

  /** Every live key of the handle, whoever it bills (its owner, or a pool's tenant). */
  async function revokeHandle(handle: string) {
    const path = `/api/keys?handle=${encodeURIComponent(handle)}`;
    const res = await proxy.send(path);
    if (!res.ok) throw refused('GET', path, res.status);
    const { keys } = await proxy.parse(res, keysAnswer, 'GET /api/keys');
    for (const key of keys)
      if (key.handle === handle && !key.revokedAt) {
        const gone = await proxy.send(`/api/keys/${key.id}`, { method: 'DELETE' });
        // Already revoked elsewhere: as good as revoked here.
        if (!gone.ok && gone.status !== 404) throw refused('DELETE', '/api/keys/:id', gone.status);
      }
  }

  return {
    async mint(user: string, handle: string): Promise<string> {
      await revokeHandle(handle);
      const res = await proxy.send('/api/keys', { method: 'POST', body: { user, handle } });
      if (!res.ok) throw refused('POST', '/api/keys', res.status);
      return (await proxy.parse(res, mintedKeyAnswer, 'POST /api/keys')).key;
    },
    revokeHandle,

    /** USD per handle, user (the tenant of a pooled container) and UTC day from `from`, from the usage rows. */
    async costByDay(from: Date): Promise<CostRow[]> {
      const path = `/api/usage?groupBy=handle,user,day&from=${encodeURIComponent(from.toISOString())}`;
      const res = await proxy.send(path);
      if (!res.ok) throw refused('GET', path, res.status);
      return (await proxy.parse(res, costsAnswer, 'GET /api/usage')).rows;
    },
  };
}

export type ProxyClient = ReturnType<typeof createProxyClient>;
