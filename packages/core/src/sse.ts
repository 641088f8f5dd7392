/**
 * Server-sent events to any number of clients. Each event is encoded once; each client has its own
 * bounded queue, so a client that does not keep up loses its own oldest events and never slows the
 * others or grows memory without bound. Every event has an `id:`; Last-Event-ID resumes from a ring.
 */
export interface SseHooks {
  onClients?(count: number): void;
  onEvent?(type: string): void;
  onDropped?(count: number): void;
}

export interface SseOptions extends SseHooks {
  queueSize?: number;
  ringSize?: number;
  heartbeatMs?: number;
  /** Events kept from before a restart (oldest first): ids continue after them and Last-Event-ID still replays. */
  history?: { id: number; type: string; data: unknown }[];
}

/**
 * Sent (without an id) when a Last-Event-ID asks for events the ring no longer holds, or ids the stream never
 * gave (its history was lost): the client missed something and must look again (reconcile), not assume.
 */
export const SSE_GAP_EVENT = 'stream.gap';

interface Client {
  queue: Uint8Array[];
  wake: (() => void) | undefined;
  closed: boolean;
}

const encoder = new TextEncoder();
const CONNECTED = encoder.encode(': connected\n\n');
/** Bun's direct stream: the DOM typings loaded beside Bun's only know the standard constructor. */
const DirectStream = ReadableStream as unknown as new (
  source: Bun.DirectUnderlyingSource<Uint8Array>,
) => ReadableStream<Uint8Array>;
/** One SSE event as bytes; without an id the client's Last-Event-ID stays where it was. */
export const sseFrame = (type: string, data: unknown, id?: number) =>
  encoder.encode(`${id === undefined ? '' : `id: ${id}\n`}event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);

export class SseBroadcaster {
  readonly #clients = new Set<Client>();
  readonly #ring: { id: number; chunk: Uint8Array }[] = [];
  readonly #queueSize: number;
  readonly #ringSize: number;
  readonly #hooks: SseHooks;
  readonly #heartbeat: Timer;
  #nextId = 1;

  constructor({
    queueSize = 256,
    ringSize = 1024,
    heartbeatMs = 15_000,
    history = [],
    ...hooks
  }: SseOptions = {}) {
    this.#queueSize = queueSize;
    this.#ringSize = ringSize;
    this.#hooks = hooks;
    for (const e of history.slice(-ringSize))
      this.#ring.push({ id: e.id, chunk: sseFrame(e.type, e.data, e.id) });
    this.#nextId = (history.at(-1)?.id ?? 0) + 1;
    const ping = encoder.encode(': heartbeat\n\n');
    this.#heartbeat = setInterval(() => {
      for (const client of this.#clients) this.#push(client, ping);
    }, heartbeatMs);
    this.#heartbeat.unref?.();
  }

  get clientCount(): number {
    return this.#clients.size;
  }

  broadcast(type: string, data: unknown): number {
    const id = this.#nextId++;
    const chunk = sseFrame(type, data, id);
    this.#ring.push({ id, chunk });
    if (this.#ring.length > this.#ringSize) this.#ring.shift();
    for (const client of this.#clients) this.#push(client, chunk);
    this.#hooks.onEvent?.(type);
    return id;
  }

  /** A streaming Response for one client; `lastEventId` replays what it missed (if still in the ring). */
  connect(lastEventId?: string | null, signal?: AbortSignal): Response {
    const client: Client = { queue: [], wake: undefined, closed: false };
    const after = Number(lastEventId);
    if (lastEventId && Number.isFinite(after)) {
      const oldest = this.#ring[0]?.id ?? this.#nextId;
      const latest = this.#nextId - 1;
      if (after < oldest - 1 || after > latest)
        this.#push(client, sseFrame(SSE_GAP_EVENT, { after, oldest, latest }));
      for (const e of this.#ring) if (e.id > after) this.#push(client, e.chunk);
    }
    const remove = () => {
      if (client.closed) return;
      client.closed = true;
      this.#clients.delete(client);
      client.wake?.();
      this.#hooks.onClients?.(this.#clients.size);
    };
    signal?.addEventListener('abort', remove, { once: true });
    this.#clients.add(client);
    this.#hooks.onClients?.(this.#clients.size);
    // Written straight to the socket (Bun's direct stream): no stream queue and no read per chunk between
    // this client's queue and the connection.
    const direct: Bun.DirectUnderlyingSource<Uint8Array> = {
      type: 'direct',
      async pull(controller) {
        controller.write(CONNECTED);
        controller.flush();
        for (;;) {
          while (client.queue.length === 0 && !client.closed)
            await new Promise<void>((resolve) => {
              client.wake = resolve;
            });
          client.wake = undefined;
          if (client.closed) break;
          // Everything queued in one flush: fewer writes when the client keeps up.
          for (const chunk of client.queue.splice(0, client.queue.length)) controller.write(chunk);
          // Waits while the client does not read (its own queue meanwhile drops its oldest).
          await controller.flush(true);
        }
        controller.close();
      },
      cancel: remove,
    };
    const body = new DirectStream(direct);
    return new Response(body, {
      headers: {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      },
    });
  }

  close(): void {
    clearInterval(this.#heartbeat);
    for (const client of [...this.#clients]) {
      client.closed = true;
      client.wake?.();
    }
    this.#clients.clear();
  }

  #push(client: Client, chunk: Uint8Array) {
    if (client.queue.length >= this.#queueSize) {
      client.queue.shift();
      this.#hooks.onDropped?.(1);
    }
    client.queue.push(chunk);
    if (client.wake) this.#wakeSoon(client);
  }

  /**
   * Clients are woken together once the events of this turn of the event loop are queued, not one event
   * at a time: when writing to every client takes longer than the time between events, the events that
   * came meanwhile go out in one write per client instead of each waiting for a pass of its own (at 10,000
   * clients and 20 events/s the backlog otherwise grew to seconds).
   */
  readonly #waking = new Set<Client>();
  #wakeScheduled = false;
  #wakeSoon(client: Client) {
    this.#waking.add(client);
    if (this.#wakeScheduled) return;
    this.#wakeScheduled = true;
    setImmediate(() => {
      this.#wakeScheduled = false;
      const waking = [...this.#waking];
      this.#waking.clear();
      for (const c of waking) c.wake?.();
    });
  }
}
