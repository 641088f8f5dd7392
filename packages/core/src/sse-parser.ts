export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/**
 * Splits an SSE byte stream into events; chunks may hold several events or half of one.
 * With `comments`, comment lines come out as events of type `comment`.
 */
export class SseParser {
  constructor(private readonly comments = false) {}

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
      if (line.startsWith(':')) {
        if (this.comments) out.push({ event: 'comment', data: line.slice(1).trim() });
        continue;
      }
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
