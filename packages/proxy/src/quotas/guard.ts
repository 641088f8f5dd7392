import { coalescedByKey, type Logger } from '@beacon/core';
import type { ProxyStore } from '../db';
import type { QuotaRow } from '../db/schema/quotas';
import type { SpendRow } from '../db/schema/spend';
import { type Limits, microUsd, type Refusal, refusalOf } from '../domain/budget';
import type { ProxyMetrics } from '../metrics';
import type { UsageStore } from '../usage-store';
import { createLimits } from './limits';
import { createRecounts } from './recount';
import { untilWritten } from './settle';
import { createSpendStatements } from './statements';

export type QuotaLimits = Limits;

export type Reservation = { ok: true; settle(actualUsd: number): void } | ({ ok: false } & Refusal);

/**
 * Budgets by reserve-and-reconcile, shared by every replica on the database: a call reserves its worst-case
 * cost with one conditional UPDATE of the user's `spend` row — the check and the reservation are one
 * statement, so two calls (on one replica or many) cannot both take the last of a budget — and settles the
 * real cost when it ends. Overspend is therefore bounded by how far real costs exceed their reservations.
 * Users without a quota cost the database nothing here.
 */
export function createQuotaGuard(
  store: ProxyStore,
  usage: Pick<UsageStore, 'spentSince' | 'inFlight'>,
  metrics: ProxyMetrics,
  log: Logger,
  now: () => Date = () => new Date(),
) {
  const limits = createLimits(store, now);
  const limitsOf = limits.of;

  const statements = createSpendStatements(store, usage, now);
  const { spendNow, readRow, ensureRow } = statements;

  function publishUtilization(metricUser: string, row: SpendRow | undefined, limits: QuotaRow) {
    const spent = spendNow(row, now());
    if (limits.dailyUsd)
      metrics.quotaUtilization.set({ user: metricUser, window: 'day' }, spent.day / limits.dailyUsd);
    if (limits.monthlyUsd)
      metrics.quotaUtilization.set({ user: metricUser, window: 'month' }, spent.month / limits.monthlyUsd);
  }

  /**
   * A user's calls that come while one of theirs is being reserved are reserved together next, in one
   * statement if all of them fit, else one by one in the order they came (as many as fit): at 32 calls at a
   * time on PostgreSQL, one statement per call on the user's row queued behind the others (added p50 ~10 ms).
   */
  const take = coalescedByKey<{ worst: number; limits: QuotaRow }, SpendRow | undefined>(
    async (user, wants) => {
      const limits = wants[0]?.limits as QuotaRow;
      if (wants.length > 1 && wants.every((w) => w.limits === limits)) {
        const worst = wants.reduce((sum, w) => sum + w.worst, 0);
        const all = await statements.take(user, worst, wants.length, limits);
        if (all) return wants.map(() => all);
      }
      const rows: (SpendRow | undefined)[] = [];
      for (const w of wants) rows.push(await statements.take(user, w.worst, 1, w.limits));
      return rows;
    },
  );

  /** Settles that come while one of the user's is being written go together in the next statement. */
  const release = coalescedByKey<{ reserved: number; actual: number }, SpendRow | undefined>(
    async (user, gives) => {
      const row = await statements.release(
        user,
        gives.reduce((sum, g) => sum + g.reserved, 0),
        gives.reduce((sum, g) => sum + g.actual, 0),
      );
      return gives.map(() => row);
    },
  );

  const { settle, unsettled } = untilWritten(release, log);

  return {
    /** Resolves once this replica hears the others' changes. */
    ready: limits.ready,
    /** A user's limits (through the short cache every replica clears on a change). */
    limitsOf,

    /** For /health: settles still waiting for the database. */
    check() {
      const waiting = unsettled();
      if (waiting > 0) throw new Error(`${waiting} budget settles not yet written`);
    },

    async set(user: string, values: QuotaLimits) {
      await limits.set(user, values);
      return this.get(user);
    },

    async get(user: string) {
      const limits = await limitsOf(user);
      const at = now();
      const row = await readRow(user);
      const spent = row ? spendNow(row, at) : { ...(await statements.spentFromUsage(user, at)), reserved: 0 };
      return {
        user,
        dailyUsd: limits?.dailyUsd ?? null,
        monthlyUsd: limits?.monthlyUsd ?? null,
        requestsPerMinute: limits?.requestsPerMinute ?? null,
        defaultMaxTokens: limits?.defaultMaxTokens ?? null,
        spentTodayUsd: microUsd(spent.day),
        spentThisMonthUsd: microUsd(spent.month),
        reservedUsd: microUsd(spent.reserved),
      };
    },

    /** `limits`: the user's, as the caller read them with limitsOf (the call's default reservation needs them first). */
    async reserve(
      user: string,
      metricUser: string,
      worstCase: number,
      limits: QuotaRow | undefined,
    ): Promise<Reservation> {
      // Never a negative (or NaN) reservation: it would make room in the budget instead of taking it.
      const worstCaseUsd = Number.isFinite(worstCase) ? Math.max(0, worstCase) : Number.POSITIVE_INFINITY;
      if (!limits || (limits.dailyUsd == null && limits.monthlyUsd == null && !limits.requestsPerMinute))
        return { ok: true, settle: () => {} };
      const at = now();
      if (!Number.isFinite(worstCaseUsd) && (limits.dailyUsd != null || limits.monthlyUsd != null)) {
        const refusal = refusalOf(user, spendNow(await readRow(user), at), limits, worstCaseUsd, at);
        if (refusal) return { ok: false, ...refusal };
      }
      // Infinite only under a rate limit alone (a budget refused it above): nothing to hold.
      const held = Number.isFinite(worstCaseUsd) ? worstCaseUsd : 0;
      await ensureRow(user, at);
      const taken = await take(user, { worst: held, limits });
      if (!taken) {
        const refusal = refusalOf(user, spendNow(await readRow(user), at), limits, worstCaseUsd, at) ?? {
          // Room was made between the statement and the read: refuse this once, the next call will fit.
          reason: 'daily' as const,
          retryAfterSeconds: 1,
          message: `${user} is at a budget limit`,
        };
        return { ok: false, ...refusal };
      }
      let settled = false;
      return {
        ok: true,
        settle(actualUsd: number) {
          if (settled) return;
          settled = true;
          settle(user, { reserved: held, actual: actualUsd }, (row) =>
            publishUtilization(metricUser, row, limits),
          );
        },
      };
    },

    /** Calls a crash cut off: their reservations become what they are charged. */
    charge: async (user: string, reservedUsd: number) => {
      await release(user, { reserved: reservedUsd, actual: reservedUsd });
    },

    ...createRecounts(store, usage, statements, now),
  };
}

export type QuotaGuard = ReturnType<typeof createQuotaGuard>;
