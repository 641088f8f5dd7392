import { type SseEvent, SseParser } from '@beacon/core';

/** An SSE client that collects events; `waitFor` resolves once a matching event has arrived. */
export async function sseClient(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  if (!res.ok || !res.body) throw new Error(`SSE ${url}: ${res.status}`);
  const events: SseEvent[] = [];
  const waiters: { match: (e: SseEvent) => boolean; resolve: (e: SseEvent) => void }[] = [];
  const parser = new SseParser();
  const reader = res.body.getReader();
  void (async () => {
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        for (const e of parser.push(r.value)) {
          events.push(e);
          for (const w of [...waiters]) {
            if (w.match(e)) {
              waiters.splice(waiters.indexOf(w), 1);
              w.resolve(e);
            }
          }
        }
      }
    } catch {}
  })();
  return {
    events,
    waitFor(match: (e: SseEvent) => boolean, timeoutMs = 5000): Promise<SseEvent> {
      const found = events.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `no matching SSE event within ${timeoutMs} ms; got ${events.length}: ${events
                  .slice(-3)
                  .map((e) => `${e.event} ${e.data.slice(0, 80)}`)
                  .join(' | ')}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          match,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
      });
    },
    close: () => controller.abort(),
  };
}
