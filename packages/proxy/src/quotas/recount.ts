import { and, eq, gt } from 'drizzle-orm';
import type { ProxyStore } from '../db';
import type { UsageStore } from '../usage-store';
import type { createSpendStatements } from './statements';

/** Spend rows counted again from the usage table, where what they hold can no longer be trusted. */
export function createRecounts(
  { db, t }: Pick<ProxyStore, 'db' | 't'>,
  usage: Pick<UsageStore, 'inFlight'>,
  statements: Pick<ReturnType<typeof createSpendStatements>, 'countedFromUsage'>,
  now: () => Date,
) {
  const s = t.spend;
  /** Reservations seen held with no call in flight at the last look (recountOrphans). */
  let orphans = new Map<string, number>();
  return {
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
