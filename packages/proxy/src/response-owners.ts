import { eq } from 'drizzle-orm';
import type { ProxyStore } from './db';

export interface StoredResponse {
  user: string;
  upstream: string;
}

/**
 * Which Beacon user made each response or conversation the upstream keeps, and which upstream keeps it: the
 * upstream's key is shared by every user, so an id is only ever answered to the user that made it.
 */
export function createResponseOwners({ db, t }: Pick<ProxyStore, 'db' | 't'>) {
  const table = t.storedResponses;
  return {
    async record(id: string, owner: StoredResponse) {
      await db
        .insert(table)
        .values({ id, ...owner, createdAt: new Date() })
        .onConflictDoNothing();
    },
    /** The id's owner and upstream; undefined when it is not this user's (or does not exist). */
    async of(id: string, user: string): Promise<StoredResponse | undefined> {
      const [row] = await db.select().from(table).where(eq(table.id, id)).limit(1);
      return row && row.user === user ? { user: row.user, upstream: row.upstream } : undefined;
    },
    async forget(id: string) {
      await db.delete(table).where(eq(table.id, id));
    },
  };
}

export type ResponseOwners = ReturnType<typeof createResponseOwners>;
