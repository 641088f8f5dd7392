import { coalescedByKey, type Logger } from '@beacon/core';
import { and, eq, gt } from 'drizzle-orm';
import type { ProxyStore } from '../db';
import type { QuotaRow } from '../db/schema/quotas';
import type { SpendRow } from '../db/schema/spend';
import { type Limits, type Refusal, refusalOf } from '../domain/budget';
import type { ProxyMetrics } from '../metrics';
import type { UsageStore } from '../usage-store';
import { createLimits } from './limits';
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
  const { db, t } = store;
  const s = t.spend;
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

  let unsettled = 0;
  /** Reservations seen held with no call in flight at the last look (recountOrphans). */
  let orphans = new Map<string, number>();
  /**
   * A settle the database refused is tried again (1 s doubling to 30 s) until it is written, as usage rows
   * are: the cost reaches the budget and the reservation is given back once the database is back.
   */
  function settle(
    user: string,
    give: { reserved: number; actual: number },
    done: (row: SpendRow | undefined) => void,
    attempt = 0,
  ) {
    release(user, give).then(
      (row) => {
        if (attempt > 0) {
          unsettled--;
          log.info(
            { event: 'proxy.settle_written', user, attempts: attempt + 1 },
            'a late settle was written',
          );
        }
        done(row);
      },
      (err: unknown) => {
        if (attempt === 0) {
          unsettled++;
          log.error(
            { event: 'proxy.settle_failed', user, err: String(err) },
            'a settle was not written; retrying',
          );
        }
        setTimeout(
          () => settle(user, give, done, attempt + 1),
          Math.min(30_000, 1000 * 2 ** attempt),
        ).unref?.();
      },
    );
  }

  return {
    /** Resolves once this replica hears the others' changes. */
    ready: limits.ready,

    /** For /health: settles still waiting for the database. */
    check() {
      if (unsettled > 0) throw new Error(`${unsettled} budget settles not yet written`);
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
        spentTodayUsd: spent.day,
        spentThisMonthUsd: spent.month,
        reservedUsd: spent.reserved,
      };
    },

    async reserve(user: string, metricUser: string, worstCase: number): Promise<Reservation> {
      // Never a negative (or NaN) reservation: it would make room in the budget instead of taking it.
      const worstCaseUsd = Number.isFinite(worstCase) ? Math.max(0, worstCase) : Number.POSITIVE_INFINITY;
      const limits = await limitsOf(user);
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

    /**
     * On a shared database (PostgreSQL), once a minute: a spend row holding a reservation that no call in
     * flight accounts for — a replica died between a reserve and its settle — and that has not moved since the
     * last look is counted again from the usage table. The update holds only if the row still holds exactly
     * that reservation, so a call reserving meanwhile is never wiped. Returns the users counted again.
     */
    async recountOrphans(): Promise<string[]> {
      const holding = await db
        .select({ user: s.user, reservedUsd: s.reservedUsd })
        .from(s)
        .where(gt(s.reservedUsd, 0));
      const counted: string[] = [];
      const next = new Map<string, number>();
      for (const { user, reservedUsd } of holding) {
        if (orphans.get(user) !== reservedUsd || (await usage.inFlight(user))) {
          next.set(user, reservedUsd);
          continue;
        }
        const done = await db
          .update(s)
          .set(await statements.countedFromUsage(user, now()))
          .where(and(eq(s.user, user), eq(s.reservedUsd, reservedUsd)))
          .returning({ user: s.user });
        if (done.length > 0) counted.push(user);
      }
      orphans = next;
      return counted;
    },

    /**
     * With one proxy on the store (SQLite) no call is in flight at its start, so the usage table, its crash
     * leftovers closed first, is the whole truth: the spend rows of the users a stop cut off — those with
     * `interrupted` calls, and any still holding a reservation — are counted again from it, and hold nothing.
     * A settle that came just before the kill had charged its real cost while its row stayed pending (the
     * row is written up to 5 ms later): counting again charges that call once, as its row says. A
     * reservation no pending row accounts for (a kill between the two) is given back. Returns the users
     * who held more than their interrupted calls account for.
     */
    async recount(interrupted: ReadonlyMap<string, number>): Promise<string[]> {
      const holding = await db
        .select({ user: s.user, reservedUsd: s.reservedUsd })
        .from(s)
        .where(gt(s.reservedUsd, 0));
      const at = now();
      for (const user of new Set([...interrupted.keys(), ...holding.map((h) => h.user)]))
        await db
          .update(s)
          .set(await statements.countedFromUsage(user, at))
          .where(eq(s.user, user));
      return holding.filter((h) => h.reservedUsd - (interrupted.get(h.user) ?? 0) > 1e-9).map((h) => h.user);
    },
  };
}

export type QuotaGuard = ReturnType<typeof createQuotaGuard>;
