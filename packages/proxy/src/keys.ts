import { createHash, randomBytes } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import type { ProxyDb } from './db';
import { apiKeys } from './db/schema/api-keys';

export interface KeyOwner {
  id: string;
  user: string;
  handle: string | null;
}

const hash = (key: string) => createHash('sha256').update(key).digest('hex');

/** Beacon user keys: shown once at creation, stored hashed, checked from memory on the hot path. */
export function createKeyStore(db: ProxyDb) {
  const cache = new Map<string, KeyOwner | null>();
  return {
    create({ user, handle }: { user: string; handle?: string | undefined }) {
      const key = `bk_${randomBytes(24).toString('base64url')}`;
      const id = `key_${randomBytes(8).toString('hex')}`;
      db.insert(apiKeys)
        .values({
          id,
          user,
          handle: handle ?? null,
          keyHash: hash(key),
          prefix: key.slice(0, 7),
          createdAt: new Date(),
        })
        .run();
      return { id, key };
    },

    verify(key: string): KeyOwner | undefined {
      const h = hash(key);
      let owner = cache.get(h);
      if (owner === undefined) {
        const row = db
          .select()
          .from(apiKeys)
          .where(and(eq(apiKeys.keyHash, h), isNull(apiKeys.revokedAt)))
          .get();
        owner = row ? { id: row.id, user: row.user, handle: row.handle } : null;
        if (cache.size > 10_000) cache.clear();
        cache.set(h, owner);
      }
      return owner ?? undefined;
    },

    list({ user, handle }: { user?: string | undefined; handle?: string | undefined } = {}) {
      const where = [
        ...(user ? [eq(apiKeys.user, user)] : []),
        ...(handle ? [eq(apiKeys.handle, handle)] : []),
      ];
      const rows = db
        .select()
        .from(apiKeys)
        .where(and(...where))
        .all();
      return rows.map(({ keyHash: _hash, ...row }) => ({
        ...row,
        createdAt: row.createdAt.toISOString(),
        revokedAt: row.revokedAt?.toISOString() ?? null,
      }));
    },

    revoke(id: string): boolean {
      const revoked = db
        .update(apiKeys)
        .set({ revokedAt: new Date() })
        .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
        .returning({ id: apiKeys.id })
        .all();
      cache.clear();
      return revoked.length > 0;
    },
  };
}

export type KeyStore = ReturnType<typeof createKeyStore>;
