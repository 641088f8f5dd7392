import { eq } from 'drizzle-orm';
import { CACHE_TTL_MS, CHANGES_CHANNEL, type ProxyStore } from '../db';
import type { QuotaRow } from '../db/schema/quotas';
import type { Limits } from '../domain/budget';

/**
 * Each user's limits, read through a short cache that every replica clears when one of them changes a
 * user's limits (the store's change channel).
 */
export function createLimits(store: ProxyStore, now: () => Date) {
  const { db, t } = store;
  const cache = new Map<string, { limits: QuotaRow | undefined; at: number }>();
  return {
    /** Resolves once this replica hears the others' changes. */
    ready: store.listen(CHANGES_CHANNEL, (payload) => {
      if (payload.startsWith('quota:')) cache.delete(payload.slice(6));
    }),

    async of(user: string): Promise<QuotaRow | undefined> {
      const cached = cache.get(user);
      if (cached && Date.now() - cached.at < CACHE_TTL_MS) return cached.limits;
      const [limits] = await db.select().from(t.quotas).where(eq(t.quotas.user, user));
      if (cache.size > 10_000) cache.clear();
      cache.set(user, { limits, at: Date.now() });
      return limits;
    },

    async set(user: string, limits: Limits) {
      const values = {
        dailyUsd: limits.dailyUsd ?? null,
        monthlyUsd: limits.monthlyUsd ?? null,
        requestsPerMinute: limits.requestsPerMinute ?? null,
        defaultMaxTokens: limits.defaultMaxTokens ?? null,
        updatedAt: now(),
      };
      await db
        .insert(t.quotas)
        .values({ user, ...values })
        .onConflictDoUpdate({ target: t.quotas.user, set: values });
      cache.delete(user);
      await store.notify(CHANGES_CHANNEL, `quota:${user}`);
    },
  };
}
