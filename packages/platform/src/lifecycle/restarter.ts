import type { Logger } from '@beacon/core';
import { type BackoffPolicy, nextAttempt, restartDelay } from '../domain/restart-policy';

export interface RestarterDeps {
  policy: BackoffPolicy;
  log: Logger;
  /** Start the exited container again; a failure is retried at the next delay. */
  restart: (handle: string) => Promise<void>;
  /** The step a handle's backoff reached, kept with its record: a platform restart goes on from it. */
  recall?: (handle: string) => number | undefined;
  remember?: (handle: string, attempt: number | undefined) => void;
}

/**
 * Restarts containers that exited on their own, with backoff. One timer per handle: reporting the same
 * exit twice (an engine event and a health cycle) schedules one restart.
 */
export function createRestarter({ policy, log, restart, recall, remember }: RestarterDeps) {
  const pending = new Map<string, Timer>();
  const attempts = new Map<string, number>();
  /** When each pending restart is due (the console's countdown). */
  const due = new Map<string, number>();

  function schedule(handle: string, upMs: number) {
    if (pending.has(handle)) return;
    const attempt = nextAttempt(attempts.get(handle) ?? recall?.(handle), upMs, policy);
    attempts.set(handle, attempt);
    remember?.(handle, attempt);
    const delayMs = restartDelay(attempt, policy);
    log.info({ event: 'container.restart_scheduled', handle, attempt, delayMs }, `restart in ${delayMs} ms`);
    due.set(handle, Date.now() + delayMs);
    const timer = setTimeout(async () => {
      due.delete(handle);
      try {
        await restart(handle);
        pending.delete(handle);
      } catch (err) {
        pending.delete(handle);
        log.warn({ event: 'container.restart_failed', handle, err: String(err) }, 'restart failed');
        schedule(handle, 0);
      }
    }, delayMs);
    pending.set(handle, timer);
  }

  return {
    /** The container exited on its own after running `upMs`. */
    exited: schedule,
    isPending: (handle: string) => pending.has(handle),
    /** When the handle's next restart is due (ms since the epoch), if one is scheduled. */
    dueAt: (handle: string) => due.get(handle),
    /** Stopped by the operator or gone: no restart, and the count starts over. */
    cancel(handle: string) {
      clearTimeout(pending.get(handle));
      pending.delete(handle);
      due.delete(handle);
      attempts.delete(handle);
      remember?.(handle, undefined);
    },
    stop() {
      for (const timer of pending.values()) clearTimeout(timer);
      pending.clear();
      due.clear();
    },
  };
}
