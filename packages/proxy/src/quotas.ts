import { eq } from 'drizzle-orm';
import type { ProxyDb } from './db';
import { type QuotaRow, quotas } from './db/schema/quotas';
import { type Limits, type Refusal, refusalOf, startOfDay, startOfMonth } from './domain/budget';
import type { ProxyMetrics } from './metrics';
import type { UsageStore } from './usage-store';

export type QuotaLimits = Limits;

export type Reservation = { ok: true; settle(actualUsd: number): void } | ({ ok: false } & Refusal);

interface Spend {
  dayStart: number;
  day: number;
  monthStart: number;
  month: number;
  reserved: number;
  inFlight: number;
  recent: number[];
}

/**
 * Budgets by reserve-and-reconcile: a call reserves its worst-case cost in the same synchronous step
 * that checks the budget (bun:sqlite is synchronous, so no other call can interleave), and settles
 * the real cost when it ends. Concurrent calls therefore cannot overspend by more than the amount by
 * which real costs exceed their reservations.
 */
export function createQuotaGuard(
  db: ProxyDb,
  usage: Pick<UsageStore, 'spentSince'>,
  metrics: ProxyMetrics,
  now: () => Date = () => new Date(),
) {
  const spends = new Map<string, Spend>();
  const spentSince = usage.spentSince;

  /** Spend of the current day and month, from the database once, then kept in memory. */
  function spendOf(user: string): Spend {
    const t = now();
    const dayStart = startOfDay(t).getTime();
    const monthStart = startOfMonth(t).getTime();
    let s = spends.get(user);
    if (!s || s.monthStart !== monthStart) {
      s = {
        dayStart,
        day: spentSince(user, startOfDay(t)),
        monthStart,
        month: spentSince(user, startOfMonth(t)),
        reserved: 0,
        inFlight: 0,
        recent: s?.recent ?? [],
      };
      spends.set(user, s);
    } else if (s.dayStart !== dayStart) {
      s.dayStart = dayStart;
      s.day = spentSince(user, startOfDay(t));
    }
    return s;
  }

  // The proxy is the only writer of its quotas, so they are read once per user and kept.
  const limitCache = new Map<string, QuotaRow | undefined>();
  const limitsOf = (user: string) => {
    if (!limitCache.has(user))
      limitCache.set(user, db.select().from(quotas).where(eq(quotas.user, user)).get());
    return limitCache.get(user);
  };

  function publishUtilization(user: string, metricUser: string, s: Spend, limits = limitsOf(user)) {
    if (limits?.dailyUsd)
      metrics.quotaUtilization.set({ user: metricUser, window: 'day' }, s.day / limits.dailyUsd);
    if (limits?.monthlyUsd)
      metrics.quotaUtilization.set({ user: metricUser, window: 'month' }, s.month / limits.monthlyUsd);
  }

  return {
    set(user: string, limits: QuotaLimits) {
      const values = {
        dailyUsd: limits.dailyUsd ?? null,
        monthlyUsd: limits.monthlyUsd ?? null,
        requestsPerMinute: limits.requestsPerMinute ?? null,
        updatedAt: now(),
      };
      db.insert(quotas)
        .values({ user, ...values })
        .onConflictDoUpdate({ target: quotas.user, set: values })
        .run();
      limitCache.delete(user);
      return this.get(user);
    },

    get(user: string) {
      const limits = limitsOf(user);
      const s = spendOf(user);
      return {
        user,
        dailyUsd: limits?.dailyUsd ?? null,
        monthlyUsd: limits?.monthlyUsd ?? null,
        requestsPerMinute: limits?.requestsPerMinute ?? null,
        spentTodayUsd: s.day,
        spentThisMonthUsd: s.month,
        reservedUsd: s.reserved,
      };
    },

    reserve(user: string, metricUser: string, worstCase: number): Reservation {
      // Never a negative (or NaN) reservation: it would make room in the budget instead of taking it.
      const worstCaseUsd = Number.isFinite(worstCase) ? Math.max(0, worstCase) : Number.POSITIVE_INFINITY;
      const limits = limitsOf(user);
      const s = spendOf(user);
      const t = now();
      if (limits?.requestsPerMinute) s.recent = s.recent.filter((at) => at > t.getTime() - 60_000);
      const refusal = refusalOf(user, s, limits, worstCaseUsd, t);
      if (refusal) return { ok: false, ...refusal };
      s.reserved += worstCaseUsd;
      s.inFlight++;
      if (limits?.requestsPerMinute) s.recent.push(t.getTime());
      let settled = false;
      return {
        ok: true,
        settle(actualUsd: number) {
          if (settled) return;
          settled = true;
          const current = spendOf(user);
          current.inFlight = Math.max(0, current.inFlight - 1);
          // Reset when idle so floating-point residue never accumulates into a phantom reservation.
          current.reserved = current.inFlight === 0 ? 0 : Math.max(0, current.reserved - worstCaseUsd);
          current.day += actualUsd;
          current.month += actualUsd;
          publishUtilization(user, metricUser, current, limits);
        },
      };
    },
  };
}

export type QuotaGuard = ReturnType<typeof createQuotaGuard>;
