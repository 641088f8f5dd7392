import {
  AppError,
  type CostRow,
  costsAnswer,
  createJsonClient,
  keysAnswer,
  mintedKeyAnswer,
} from '@beacon/core';
import { z } from 'zod';

const bindAnswer = z.looseObject({ handle: z.string(), user: z.string() });

/**
 * The proxy's admin API. Keys kernels use, so a container's AI calls are charged to its owner: one live
 * key per handle (minting revokes the handle's earlier keys, so a recycled container's old key stops
 * working). And the AI cost per handle, for the admin page.
 */
export function createProxyClient(proxyUrl: string, adminToken: string | undefined) {
  /** The proxy's own words: a token mismatch is named as such, any other refusal by what the proxy said. */
  const refused = (status: number, label: string, said: string | undefined) =>
    new AppError(
      'unavailable',
      status === 401 || status === 403
        ? `the proxy refused ${label} (${status}); is BEACON_ADMIN_TOKEN the same on both?`
        : `the proxy could not ${label} (${status})${said ? `: ${said}` : ''}`,
    );
  const proxy = createJsonClient({ name: 'proxy', baseUrl: proxyUrl, token: adminToken, refused });

  /** Every live key of the handle, whoever it bills (its owner, or a pool's tenant). */
  async function revokeHandle(handle: string) {
    const { keys } = await proxy.json(`/api/keys?handle=${encodeURIComponent(handle)}`, keysAnswer);
    for (const key of keys)
      if (key.handle === handle && !key.revokedAt) {
        const gone = await proxy.send(`/api/keys/${key.id}`, { method: 'DELETE' });
        // Already revoked elsewhere: as good as revoked here.
        if (!gone.ok && gone.status !== 404)
          throw refused(gone.status, 'DELETE /api/keys/:id', await proxy.saidIn(gone));
      }
  }

  return {
    async mint(user: string, handle: string): Promise<string> {
      await revokeHandle(handle);
      const body = { user, handle };
      return (await proxy.json('/api/keys', mintedKeyAnswer, { method: 'POST', body })).key;
    },
    revokeHandle,
    /** The handle's key bills `user` from now on (a pooled container's tenant); the container keeps it. */
    async bind(handle: string, user: string): Promise<void> {
      await proxy.json(`/api/keys/handle/${encodeURIComponent(handle)}`, bindAnswer, {
        method: 'PUT',
        body: { user },
      });
    },

    /** USD per handle, user (the tenant of a pooled container) and UTC day from `from`, from the usage rows. */
    async costByDay(from: Date): Promise<CostRow[]> {
      const query = `groupBy=handle,user,day&from=${encodeURIComponent(from.toISOString())}`;
      return (await proxy.json(`/api/usage?${query}`, costsAnswer)).rows;
    },
  };
}

export type ProxyClient = ReturnType<typeof createProxyClient>;
