import { type Logger, type SseEvent, SseParser } from '@beacon/core';

export interface RelayOptions {
  url: string;
  token?: string;
  log: Logger;
  onEvent: (event: SseEvent) => void;
  onStatus?: (connected: boolean) => void;
}

/**
 * Without NATS, container events reach the gateway by reading the platform's GET /api/events.
 * Reconnects (1 s, doubling to 30 s) with Last-Event-ID when the stream drops.
 */
export function startPlatformRelay({ url, token, log, onEvent, onStatus }: RelayOptions) {
  let stopped = false;
  let abort = new AbortController();
  let lastId: string | undefined;
  let connected = false;
  const setConnected = (value: boolean) => {
    connected = value;
    onStatus?.(value);
  };

  void (async () => {
    for (let delay = 1000; !stopped; delay = Math.min(delay * 2, 30_000)) {
      try {
        abort = new AbortController();
        const res = await fetch(url, {
          headers: {
            accept: 'text/event-stream',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(lastId ? { 'last-event-id': lastId } : {}),
          },
          signal: abort.signal,
        });
        if (!res.ok || !res.body) throw new Error(`platform answered ${res.status}`);
        setConnected(true);
        delay = 1000;
        log.info({ event: 'relay.connected', url }, 'relaying platform events');
        const parser = new SseParser();
        const reader = res.body.getReader();
        for (let r = await reader.read(); !r.done; r = await reader.read()) {
          for (const event of parser.push(r.value)) {
            if (event.id) lastId = event.id;
            onEvent(event);
          }
        }
        throw new Error('stream ended');
      } catch (err) {
        if (stopped) break;
        setConnected(false);
        log.warn(
          { event: 'relay.disconnected', url, err: String(err), retryMs: delay },
          'platform event stream lost',
        );
        await Bun.sleep(delay);
      }
    }
  })();

  return {
    get connected() {
      return connected;
    },
    stop() {
      stopped = true;
      abort.abort();
    },
  };
}
