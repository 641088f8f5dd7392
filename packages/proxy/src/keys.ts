import { createHash, randomBytes } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import { CACHE_TTL_MS, CHANGES_CHANNEL, type ProxyStore } from './db';

export interface KeyOwner {
  id: string;
  user: string;
  handle: string | null;
}

const hash = (key: string) => createHash('sha256').update(key).digest('hex');

/**
 * Beacon user keys: shown once at creation, stored hashed, checked from memory on the hot path. A revoke on
 * any replica reaches every replica's cache through the store's notifications, and a cached answer is asked
 * again after CACHE_TTL_MS whatever happens to them.
 */
export function createKeyStore(store: ProxyStore) {
  const { db, t } = store;
  const apiKeys = t.apiKeys;
  const cache = new Map<string, { owner: KeyOwner | null; at: number }>();
  const ready = store.listen(CHANGES_CHANNEL, (payload) => {
    if (payload.startsWith('key:')) cache.delete(payload.slice(4));
  });
  return {
    /** Resolves once this replica hears the others' revokes. */
    ready,

    async create({ user, handle }: { user: string; handle?: string | undefined }) {
      const key = `bk_${randomBytes(24).toString('base64url')}`;
      const id = `key_${randomBytes(8).toString('hex')}`;
      await db.insert(apiKeys).values({
        id,
        user,
        handle: handle ?? null,
        keyHash: hash(key),
        prefix: key.slice(0, 7),
        createdAt: new Date(),
      });
      // A key refused a moment ago on another replica is not refused from its cache now.
      await store.notify(CHANGES_CHANNEL, `key:${hash(key)}`);
      return { id, key };
    },

    async verify(key: string): Promise<KeyOwner | undefined> {
      const h = hash(key);
      const cached = cache.get(h);
      if (cached && Date.now() - cached.at < CACHE_TTL_MS) return cached.owner ?? undefined;
      const [row] = await db
        .select()
        .from(apiKeys)
        .where(and(eq(apiKeys.keyHash, h), isNull(apiKeys.revokedAt)));
      const owner = row ? { id: row.id, user: row.user, handle: row.handle } : null;
      if (cache.size > 10_000) cache.clear();
      cache.set(h, { owner, at: Date.now() });
      return owner ?? undefined;
    },

    async list({ user, handle }: { user?: string | undefined; handle?: string | undefined } = {}) {
      const where = [
        ...(user ? [eq(apiKeys.user, user)] : []),
        ...(handle ? [eq(apiKeys.handle, handle)] : []),
      ];
      const rows = await db
        .select()
        .from(apiKeys)
        .where(and(...where));
      return rows.map(({ keyHash: _hash, ...row }) => ({
        ...row,
        createdAt: row.createdAt.toISOString(),
        revokedAt: row.revokedAt?.toISOString() ?? null,
      }));
    },

    /**
     * Bill the handle's live keys to `user` from now on (a pooled container handed to a tenant, or back): the
     * container keeps its key, the server moves the binding. Returns how many keys moved.
     */
    async bind(handle: string, user: string): Promise<number> {
      const moved = await db
        .update(apiKeys)
        .set({ user })
        .where(and(eq(apiKeys.handle, handle), isNull(apiKeys.revokedAt)))
        .returning({ keyHash: apiKeys.keyHash });
      for (const { keyHash } of moved) {
        cache.delete(keyHash);
        await store.notify(CHANGES_CHANNEL, `key:${keyHash}`);
      }
      return moved.length;
    },

    async revoke(id: string): Promise<boolean> {
      const [revoked] = await db
        .update(apiKeys)
        .set({ revokedAt: new Date() })
        .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
        .returning({ keyHash: apiKeys.keyHash });
      if (!revoked) return false;
      cache.delete(revoked.keyHash);
      await store.notify(CHANGES_CHANNEL, `key:${revoked.keyHash}`);
      return true;
    },
  };
}

export type KeyStore = ReturnType<typeof createKeyStore>;
