import { coalescedByKey, type Logger } from '@beacon/core';
import { and, eq, gt, type SQL, sql } from 'drizzle-orm';
import { CACHE_TTL_MS, CHANGES_CHANNEL, type ProxyStore } from './db';
import type { QuotaRow } from './db/schema/quotas';
import type { SpendRow } from './db/schema/spend';
import {
  type Limits,
  type Refusal,
  refusalOf,
  slidingCalls,
  startOfDay,
  startOfMinute,
  startOfMonth,
} from './domain/budget';
import type { ProxyMetrics } from './metrics';
import type { UsageStore } from './usage-store';

export type QuotaLimits = Limits;

export type Reservation = { ok: true; settle(actualUsd: number): void } | ({ ok: false } & Refusal);

// Typed parameters: PostgreSQL cannot guess a bare parameter's type inside CASE or arithmetic.
const usd = (v: unknown) => sql`CAST(${v} AS DOUBLE PRECISION)`;
const ms = (v: unknown) => sql`CAST(${v} AS BIGINT)`;

/**
 * Budgets by reserve-and-reconcile, shared by every replica on the database: a call reserves its worst-case
 * cost with one conditional UPDATE of the user's `spend` row — the check and the reservation are one
 * statement, so two calls (on one replica or many) cannot both take the last of a budget — and settles the
 * real cost when it ends. Overspend is therefore bounded by how far real costs exceed their reservations.
 * Users without a quota cost the database nothing here.
 */
export function createQuotaGuard(
  store: ProxyStore,
  usage: Pick<UsageStore, 'spentSince'>,
  metrics: ProxyMetrics,
  log: Logger,
  now: () => Date = () => new Date(),
) {
  const { db, t } = store;
  const s = t.spend;
  const limitCache = new Map<string, { limits: QuotaRow | undefined; at: number }>();
  const ensured = new Set<string>();

  async function limitsOf(user: string): Promise<QuotaRow | undefined> {
    const cached = limitCache.get(user);
    if (cached && Date.now() - cached.at < CACHE_TTL_MS) return cached.limits;
    const [limits] = await db.select().from(t.quotas).where(eq(t.quotas.user, user));
    if (limitCache.size > 10_000) limitCache.clear();
    limitCache.set(user, { limits, at: Date.now() });
    return limits;
  }

  /** Today's and this month's spend as the usage table has it (before the user has a spend row). */
  async function spentFromUsage(user: string, at: Date) {
    const [day, month] = await Promise.all([
      usage.spentSince(user, startOfDay(at)),
      usage.spentSince(user, startOfMonth(at)),
    ]);
    return { day, month };
  }

  /** A spend row's budget windows as the usage table counts them, holding nothing. */
  async function countedFromUsage(user: string, at: Date) {
    const { day, month } = await spentFromUsage(user, at);
    return {
      dayStart: startOfDay(at).getTime(),
      dayUsd: day,
      monthStart: startOfMonth(at).getTime(),
      monthUsd: month,
      reservedUsd: 0,
    };
  }

  /** The user's spend row, created from the usage table the first time (another replica may win: same sums). */
  async function ensureRow(user: string, at: Date) {
    if (ensured.has(user)) return;
    await db
      .insert(s)
      .values({
        user,
        ...(await countedFromUsage(user, at)),
        minuteStart: startOfMinute(at.getTime()),
        minuteCalls: 0,
        prevMinuteCalls: 0,
      })
      .onConflictDoNothing();
    ensured.add(user);
  }

  /** The windows as of `at` (the values of the statements' placeholders). */
  function windows(at: Date) {
    const minute = startOfMinute(at.getTime());
    return {
      day: startOfDay(at).getTime(),
      month: startOfMonth(at).getTime(),
      minute,
      prevMinute: minute - 60_000,
      overlap: Math.max(0, (60_000 - (at.getTime() - minute)) / 60_000),
    };
  }
  // A row whose day, month or minute has passed reads as zero for it.
  const p = (name: string) => sql.placeholder(name);
  const dayUsd = sql`CASE WHEN ${s.dayStart} = ${ms(p('day'))} THEN ${s.dayUsd} ELSE 0 END`;
  const monthUsd = sql`CASE WHEN ${s.monthStart} = ${ms(p('month'))} THEN ${s.monthUsd} ELSE 0 END`;
  const calls = sql`CASE WHEN ${s.minuteStart} = ${ms(p('minute'))} THEN ${s.minuteCalls} ELSE 0 END`;
  const prevCalls = sql`CASE WHEN ${s.minuteStart} = ${ms(p('minute'))} THEN ${s.prevMinuteCalls} WHEN ${s.minuteStart} = ${ms(p('prevMinute'))} THEN ${s.minuteCalls} ELSE 0 END`;

  const spendNow = (row: SpendRow | undefined, at: Date) => {
    const w = windows(at);
    const current = row?.minuteStart === w.minute ? row.minuteCalls : 0;
    const prev =
      row?.minuteStart === w.minute
        ? row.prevMinuteCalls
        : row?.minuteStart === w.prevMinute
          ? row.minuteCalls
          : 0;
    return {
      day: row?.dayStart === w.day ? row.dayUsd : 0,
      month: row?.monthStart === w.month ? row.monthUsd : 0,
      reserved: row?.reservedUsd ?? 0,
      lastMinuteCalls: slidingCalls(current, prev, w.minute, at.getTime()),
    };
  };

  const readRow = async (user: string) => (await db.select().from(s).where(eq(s.user, user)))[0];

  function publishUtilization(metricUser: string, row: SpendRow | undefined, limits: QuotaRow) {
    const spent = spendNow(row, now());
    if (limits.dailyUsd)
      metrics.quotaUtilization.set({ user: metricUser, window: 'day' }, spent.day / limits.dailyUsd);
    if (limits.monthlyUsd)
      metrics.quotaUtilization.set({ user: metricUser, window: 'month' }, spent.month / limits.monthlyUsd);
  }

  /**
   * The reservation statement for a set of limits: take `n` calls' worst cases only if they fit every one;
   * the row after, or none if they did not. Prepared once per set (building a statement costs more than
   * running it).
   */
  const takes = new Map<string, ReturnType<typeof prepareTake>>();
  function prepareTake(daily: boolean, monthly: boolean, rate: boolean) {
    const fits: SQL[] = [eq(s.user, p('user'))];
    if (daily) fits.push(sql`${dayUsd} + ${s.reservedUsd} + ${usd(p('worst'))} <= ${usd(p('daily'))}`);
    if (monthly) fits.push(sql`${monthUsd} + ${s.reservedUsd} + ${usd(p('worst'))} <= ${usd(p('monthly'))}`);
    if (rate)
      fits.push(sql`${calls} + ${prevCalls} * ${usd(p('overlap'))} + ${ms(p('n'))} <= ${usd(p('rate'))}`);
    return db
      .update(s)
      .set({
        dayUsd,
        dayStart: ms(p('day')),
        monthUsd,
        monthStart: ms(p('month')),
        reservedUsd: sql`${s.reservedUsd} + ${usd(p('worst'))}`,
        prevMinuteCalls: prevCalls,
        minuteCalls: sql`${calls} + ${ms(p('n'))}`,
        minuteStart: ms(p('minute')),
      })
      .where(and(...fits))
      .returning()
      .prepare();
  }

  async function takeOnce(user: string, worst: number, n: number, limits: QuotaRow) {
    const [daily, monthly, rate] = [
      limits.dailyUsd != null,
      limits.monthlyUsd != null,
      !!limits.requestsPerMinute,
    ];
    const key = `${daily}${monthly}${rate}`;
    const statement = takes.get(key) ?? prepareTake(daily, monthly, rate);
    takes.set(key, statement);
    const rows = await statement.execute({
      ...windows(now()),
      user,
      worst,
      n,
      daily: limits.dailyUsd ?? 0,
      monthly: limits.monthlyUsd ?? 0,
      rate: limits.requestsPerMinute ?? 0,
    });
    return rows[0];
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
        const all = await takeOnce(user, worst, wants.length, limits);
        if (all) return wants.map(() => all);
      }
      const rows: (SpendRow | undefined)[] = [];
      for (const w of wants) rows.push(await takeOnce(user, w.worst, 1, w.limits));
      return rows;
    },
  );

  /** Give back reservations and charge what the calls cost (its worst case, for a call a crash cut off). */
  const releasing = db
    .update(s)
    .set({
      // Zero, not a float residue, once nothing is left in flight.
      reservedUsd: sql`CASE WHEN ${s.reservedUsd} - ${usd(p('reserved'))} > 1e-12 THEN ${s.reservedUsd} - ${usd(p('reserved'))} ELSE 0 END`,
      dayUsd: sql`${dayUsd} + ${usd(p('actual'))}`,
      dayStart: ms(p('day')),
      monthUsd: sql`${monthUsd} + ${usd(p('actual'))}`,
      monthStart: ms(p('month')),
    })
    .where(eq(s.user, p('user')))
    .returning()
    .prepare();
  /** Settles that come while one of the user's is being written go together in the next statement. */
  const release = coalescedByKey<{ reserved: number; actual: number }, SpendRow | undefined>(
    async (user, gives) => {
      const [row] = await releasing.execute({
        ...windows(now()),
        user,
        reserved: gives.reduce((sum, g) => sum + g.reserved, 0),
        actual: gives.reduce((sum, g) => sum + g.actual, 0),
      });
      return gives.map(() => row);
    },
  );

  const changed = (user: string) => store.notify(CHANGES_CHANNEL, `quota:${user}`);
  const ready = store.listen(CHANGES_CHANNEL, (payload) => {
    if (payload.startsWith('quota:')) limitCache.delete(payload.slice(6));
  });

  return {
    /** Resolves once this replica hears the others' changes. */
    ready,

    async set(user: string, limits: QuotaLimits) {
      const values = {
        dailyUsd: limits.dailyUsd ?? null,
        monthlyUsd: limits.monthlyUsd ?? null,
        requestsPerMinute: limits.requestsPerMinute ?? null,
        updatedAt: now(),
      };
      await db
        .insert(t.quotas)
        .values({ user, ...values })
        .onConflictDoUpdate({ target: t.quotas.user, set: values });
      limitCache.delete(user);
      await changed(user);
      return this.get(user);
    },

    async get(user: string) {
      const limits = await limitsOf(user);
      const at = now();
      const row = await readRow(user);
      const spent = row ? spendNow(row, at) : { ...(await spentFromUsage(user, at)), reserved: 0 };
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
          release(user, { reserved: held, actual: actualUsd }).then(
            (row) => publishUtilization(metricUser, row, limits),
            (err: unknown) =>
              log.error(
                { event: 'proxy.settle_failed', user, err: String(err) },
                'a reservation was not settled',
              ),
          );
        },
      };
    },

    /** Calls a crash cut off: their reservations become what they are charged. */
    charge: async (user: string, reservedUsd: number) => {
      await release(user, { reserved: reservedUsd, actual: reservedUsd });
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
          .set(await countedFromUsage(user, at))
          .where(eq(s.user, user));
      return holding.filter((h) => h.reservedUsd - (interrupted.get(h.user) ?? 0) > 1e-9).map((h) => h.user);
    },
  };
}

export type QuotaGuard = ReturnType<typeof createQuotaGuard>;
