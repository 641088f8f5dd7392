/** Map over items with at most `limit` calls in flight; results keep the input order. */
export async function mapWithConcurrency<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Group commit per key: one `run` in flight per key; what is asked meanwhile waits and goes in the next run,
 * together (`run` answers each want, in order). Alone it costs no wait; under load N asks of one key make
 * one statement instead of N queued behind each other (on one database row they would serialize anyway).
 */
export function coalescedByKey<W, R>(run: (key: string, wants: W[]) => Promise<R[]>) {
  type Ask = { want: W; resolve(result: R): void; reject(err: unknown): void };
  const waiting = new Map<string, Ask[]>();
  async function drain(key: string) {
    for (let asks = waiting.get(key); asks?.length; asks = waiting.get(key)) {
      waiting.set(key, []);
      try {
        const results = await run(
          key,
          asks.map((a) => a.want),
        );
        for (const [i, a] of asks.entries()) a.resolve(results[i] as R);
      } catch (err) {
        for (const a of asks) a.reject(err);
      }
    }
    waiting.delete(key);
  }
  return (key: string, want: W) =>
    new Promise<R>((resolve, reject) => {
      const queued = waiting.get(key);
      if (queued) return void queued.push({ want, resolve, reject });
      waiting.set(key, [{ want, resolve, reject }]);
      void drain(key);
    });
}
