import type { Logger } from '@beacon/core';
import { eq, sql } from 'drizzle-orm';
import type { Secrets } from '../clients/secrets';
import type { PlatformDb } from '../db';
import { releases } from '../db/schema/releases';

export interface ReleaseDeps {
  db: PlatformDb;
  log: Logger;
  secrets?: Pick<Secrets, 'unmount'> | undefined;
  /** Revoke every live proxy key of the handle. */
  revokeKeys?: ((handle: string) => Promise<void>) | undefined;
  retryMs?: number;
}

/**
 * What a container held outlives it only until it is released: its secret files are removed from the
 * tmpfs and its proxy key revoked, retried (and resumed after a restart) until both succeed.
 */
export function createReleases({ db, log, secrets, revokeKeys, retryMs = 10_000 }: ReleaseDeps) {
  const inFlight = new Map<string, Promise<boolean>>();
  let timer: Timer | undefined;

  async function release(handle: string): Promise<boolean> {
    try {
      await secrets?.unmount(handle);
      await revokeKeys?.(handle);
      db.delete(releases).where(eq(releases.handle, handle)).run();
      log.info({ event: 'container.released', handle }, 'key revoked and secret files removed');
      return true;
    } catch (err) {
      db.update(releases)
        .set({ attempts: sql`${releases.attempts} + 1`, lastError: String(err) })
        .where(eq(releases.handle, handle))
        .run();
      log.warn(
        { event: 'container.release_failed', handle, err: String(err), cause: (err as Error).cause },
        'release failed; retrying',
      );
      return false;
    }
  }

  function attempt(handle: string): Promise<boolean> {
    const running = inFlight.get(handle);
    if (running) return running;
    const done = release(handle).finally(() => inFlight.delete(handle));
    inFlight.set(handle, done);
    return done;
  }

  const retry = async () => {
    for (const { handle } of db.select().from(releases).all()) await attempt(handle);
  };

  return {
    /** The container of `handle` is gone: release what it held now, and until it succeeds. */
    schedule(handle: string): Promise<boolean> {
      db.insert(releases).values({ handle, since: new Date() }).onConflictDoNothing().run();
      return attempt(handle);
    },
    /** A new container takes the handle: wait for a release in flight, then drop it (the new one mints anew). */
    async cancel(handle: string): Promise<void> {
      await inFlight.get(handle);
      db.delete(releases).where(eq(releases.handle, handle)).run();
    },
    pending: () => db.select().from(releases).all(),
    retry,
    start() {
      timer ??= setInterval(() => void retry(), retryMs);
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}

export type Releases = ReturnType<typeof createReleases>;
