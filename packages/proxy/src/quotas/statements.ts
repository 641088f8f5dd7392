import { and, eq, type SQL, sql } from 'drizzle-orm';
import type { ProxyStore } from '../db';
import type { QuotaRow } from '../db/schema/quotas';
import type { SpendRow } from '../db/schema/spend';
import { slidingCalls, startOfDay, startOfMinute, startOfMonth } from '../domain/budget';
import type { UsageStore } from '../usage-store';

// Typed parameters: PostgreSQL cannot guess a bare parameter's type inside CASE or arithmetic.
const usd = (v: unknown) => sql`CAST(${v} AS DOUBLE PRECISION)`;
const ms = (v: unknown) => sql`CAST(${v} AS BIGINT)`;

/**
 * The statements on a user's `spend` row: read it as of now, take a reservation only if it fits every limit
 * (the check and the take are one conditional UPDATE), and give a reservation back with the real cost.
 */
export function createSpendStatements(
  store: ProxyStore,
  usage: Pick<UsageStore, 'spentSince'>,
  now: () => Date,
) {
  const { db, t } = store;
  const s = t.spend;
  const ensured = new Set<string>();

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
  return {
    windows,
    spentFromUsage,
    countedFromUsage,
    ensureRow,
    spendNow,
    readRow,
    /** Take `n` calls' worst cases together: the row after, or none if they did not fit. */
    take: takeOnce,
    async release(user: string, reserved: number, actual: number) {
      const [row] = await releasing.execute({ ...windows(now()), user, reserved, actual });
      return row;
    },
  };
}
