import type { Logger } from '@beacon/core';

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** Splits an SSE byte stream into events; chunks may hold several events or half of one. */
export class SseParser {
  #buffer = '';
  #decoder = new TextDecoder();
  #current: { id?: string; event?: string; data: string[] } = { data: [] };

  push(chunk: Uint8Array): SseEvent[] {
    const out: SseEvent[] = [];
    this.#buffer += this.#decoder.decode(chunk, { stream: true });
    const lines = this.#buffer.split('\n');
    this.#buffer = lines.pop() ?? '';
    for (const raw of lines) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line === '') {
        if (this.#current.data.length) {
          const { id, event = 'message', data } = this.#current;
          out.push({ ...(id ? { id } : {}), event, data: data.join('\n') });
        }
        this.#current = { data: [] };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') this.#current.data.push(value);
      else if (field === 'event') this.#current.event = value;
      else if (field === 'id') this.#current.id = value;
    }
    return out;
  }
}

export interface RelayOptions {
  url: string;
  log: Logger;
  onEvent: (event: SseEvent) => void;
  onStatus?: (connected: boolean) => void;
}

/**
 * Without NATS, container events reach the gateway by reading the platform's GET /api/events.
 * Reconnects (1 s, doubling to 30 s) with Last-Event-ID when the stream drops.
 */
export function startPlatformRelay({ url, log, onEvent, onStatus }: RelayOptions) {
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
          headers: { accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) },
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
