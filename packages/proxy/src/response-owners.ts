import type { Logger } from '@beacon/core';
import { eq } from 'drizzle-orm';
import type { ProxyStore } from './db';

export interface StoredResponse {
  user: string;
  upstream: string;
}

/** How long an owner may wait to be written: one statement per window, as usage rows. */
const FLUSH_AFTER_MS = 5;
const CHUNK = 500;

/**
 * Which Beacon user made each response or conversation the upstream keeps, and which upstream keeps it: the
 * upstream's key is shared by every user, so an id is only ever answered to the user that made it. Owners are
 * written a few milliseconds behind the answer, many per statement (a statement per call cost ~60 µs of the
 * proxy's CPU); until then this replica answers from memory, and another replica sees them once written.
 */
export function createResponseOwners({ db, t }: Pick<ProxyStore, 'db' | 't'>, log: Logger) {
  const table = t.storedResponses;
  let pending = new Map<string, StoredResponse & { createdAt: Date }>();
  let timer: Timer | undefined;
  let writing: Promise<void> = Promise.resolve();

  function flush(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    writing = writing.then(async () => {
      if (pending.size === 0) return;
      const rows = [...pending].map(([id, owner]) => ({ id, ...owner }));
      const written = pending;
      pending = new Map();
      try {
        for (let i = 0; i < rows.length; i += CHUNK)
          await db
            .insert(table)
            .values(rows.slice(i, i + CHUNK))
            .onConflictDoNothing();
      } catch (err) {
        for (const [id, owner] of written) if (!pending.has(id)) pending.set(id, owner);
        log.error(
          { event: 'proxy.response_owners_failed', pending: pending.size, err },
          'response owners not written; retrying',
        );
        timer ??= setTimeout(flush, 1000);
      }
    });
    return writing;
  }

  return {
    record(id: string, owner: StoredResponse) {
      pending.set(id, { ...owner, createdAt: new Date() });
      timer ??= setTimeout(flush, FLUSH_AFTER_MS);
    },
    /** The id's owner and upstream; undefined when it is not this user's (or does not exist). */
    async of(id: string, user: string): Promise<StoredResponse | undefined> {
      const row = pending.get(id) ?? (await db.select().from(table).where(eq(table.id, id)).limit(1))[0];
      return row && row.user === user ? { user: row.user, upstream: row.upstream } : undefined;
    },
    async forget(id: string) {
      pending.delete(id);
      await db.delete(table).where(eq(table.id, id));
    },
    flush,
  };
}

export type ResponseOwners = ReturnType<typeof createResponseOwners>;
