import type { Logger } from '@beacon/core';
import type { SpendRow } from '../db/schema/spend';

type Give = { reserved: number; actual: number };

/**
 * A settle the database refused is tried again (1 s doubling to 30 s) until it is written, as usage rows are:
 * the cost reaches the budget and the reservation is given back once the database is back. `unsettled` is how
 * many wait (for /health).
 */
export function untilWritten(
  release: (user: string, give: Give) => Promise<SpendRow | undefined>,
  log: Logger,
) {
  let waiting = 0;
  function settle(user: string, give: Give, done: (row: SpendRow | undefined) => void, attempt = 0) {
    release(user, give).then(
      (row) => {
        if (attempt > 0) {
          waiting--;
          log.info(
            { event: 'proxy.settle_written', user, attempts: attempt + 1 },
            'a late settle was written',
          );
        }
        done(row);
      },
      (err: unknown) => {
        if (attempt === 0) {
          waiting++;
          log.error(
            { event: 'proxy.settle_failed', user, err: String(err) },
            'a settle was not written; retrying',
          );
        }
        const retry = () => settle(user, give, done, attempt + 1);
        setTimeout(retry, Math.min(30_000, 1000 * 2 ** attempt)).unref?.();
      },
    );
  }
  return { settle, unsettled: () => waiting };
}
