import {
  type Authenticator,
  connect,
  credsAuthenticator,
  type JetStreamClient,
  type MsgHdrs,
  type NatsConnection,
  headers as natsHeaders,
} from 'nats';
import type { Logger } from 'pino';
import {
  type BusHandler,
  type BusMessage,
  BusUnavailable,
  type DurableSubscription,
  type EventBus,
  type PublishOptions,
} from './bus';
import { createStreams, type RawMessage } from './nats-streams';

const TRACE_HEADER = 'Beacon-Trace-Id';
/** W3C trace context, as OpenTelemetry's NATS instrumentations carry it. */
const TRACEPARENT = 'traceparent';

function headersOf({ traceId, traceparent }: PublishOptions) {
  const h = natsHeaders();
  if (traceId) h.set(TRACE_HEADER, traceId);
  if (traceparent) h.set(TRACEPARENT, traceparent);
  return h;
}

export interface NatsBusOptions {
  url: string;
  name: string;
  log: Logger;
  /** Called on every connection state change (for /health and metrics). */
  onStatus?: (connected: boolean) => void;
  /** The NATS credentials (a .creds file's text), read again on every (re)connect: a renewed file is used. */
  credentials?: () => string;
  /** Where replies come (a kernel's own `_INBOX_<handle>`, the only inbox its credentials may read). */
  inboxPrefix?: string;
  /** Make sure the streams exist before using them (false for a kernel, whose credentials manage none). */
  manageStreams?: boolean;
}

const decoder = new TextDecoder();

function toMessage(subject: string, data: Uint8Array, hdrs?: MsgHdrs): BusMessage | undefined {
  try {
    const traceId = hdrs?.get(TRACE_HEADER);
    const traceparent = hdrs?.get(TRACEPARENT);
    return {
      subject,
      data: JSON.parse(decoder.decode(data)),
      ...(traceId ? { traceId } : {}),
      ...(traceparent ? { traceparent } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * The bus on NATS. Connects in the background and keeps reconnecting (with backoff and jitter) forever,
 * so a service starts and serves while NATS is away; /health reports it through check().
 */
export function createNatsBus({
  url,
  name,
  log,
  onStatus,
  credentials,
  inboxPrefix,
  manageStreams = true,
}: NatsBusOptions): EventBus {
  let nc: NatsConnection | undefined;
  /** The connection's JetStream client (making one per publish cost a fresh client object each time). */
  let js: JetStreamClient | undefined;
  let closing = false;
  let connected = false;
  const setConnected = (value: boolean) => {
    connected = value;
    onStatus?.(value);
  };
  const subscriptions: { pattern: string; handler: BusHandler; stop?: () => void }[] = [];
  const durables: { sub: DurableSubscription; handler: BusHandler }[] = [];
  const stops: (() => void)[] = [];

  const deliver = async (handler: BusHandler, m: RawMessage) => {
    const message = toMessage(m.subject, m.data, m.headers);
    if (!message) {
      log.warn({ event: 'nats.invalid_json' }, 'dropped a message that is not JSON');
      return;
    }
    try {
      await handler(message);
    } catch (err) {
      log.warn(
        { event: 'bus.handler_failed', subject: message.subject, err: String(err) },
        'bus subscriber failed',
      );
    }
  };

  const startSubscription = (
    conn: NatsConnection,
    entry: { pattern: string; handler: BusHandler; stop?: () => void },
  ) => {
    const sub = conn.subscribe(entry.pattern);
    const handler = entry.handler;
    entry.stop = () => sub.unsubscribe();
    stops.push(entry.stop);
    void (async () => {
      for await (const m of sub) await deliver(handler, m);
    })();
  };

  const streams = createStreams(deliver, stops, manageStreams);
  /**
   * A durable consumer, tried every second until it reads: its stream may not exist yet (a kernel's credentials
   * make none; the gateway makes them), and a failure here must not cost the connection.
   */
  const consume = async (conn: NatsConnection, d: (typeof durables)[number]) => {
    for (let logged = false; !closing && !conn.isClosed(); logged = true) {
      try {
        return await streams.consume(conn, d.sub, d.handler);
      } catch (err) {
        if (!logged)
          log.warn(
            { event: 'nats.consumer_waiting', durable: d.sub.durable, err: String(err) },
            'durable consumer not ready; trying every second',
          );
        await Bun.sleep(1000);
      }
    }
  };
  const authenticator: Authenticator | undefined = credentials
    ? (nonce) => credsAuthenticator(new TextEncoder().encode(credentials()))(nonce)
    : undefined;

  const connectLoop = async () => {
    for (let attempt = 0; !closing; attempt++) {
      try {
        const conn = await connect({
          servers: url,
          name,
          reconnect: true,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 1000,
          reconnectJitter: 500,
          waitOnFirstConnect: false,
          // No Error (a stack capture) made for every request, a JetStream publish's too, to enrich a timeout.
          noAsyncTraces: true,
          ...(authenticator ? { authenticator } : {}),
          ...(inboxPrefix ? { inboxPrefix } : {}),
        });
        nc = conn;
        js = conn.jetstream();
        setConnected(true);
        log.info({ event: 'nats.connected', url }, 'connected to NATS');
        void (async () => {
          for await (const s of conn.status()) {
            if (s.type === 'disconnect') setConnected(false);
            if (s.type === 'reconnect') {
              streams.forget();
              setConnected(true);
              log.info({ event: 'nats.reconnected' }, 'reconnected to NATS');
            }
          }
        })();
        for (const s of subscriptions) startSubscription(conn, s);
        for (const d of durables) void consume(conn, d);
        // The client gives up on a server that refuses its credentials twice (expired, not yet renewed):
        // connect again from the start, with the credentials as they are then.
        void conn.closed().then((err) => {
          if (closing) return;
          setConnected(false);
          log.warn({ event: 'nats.closed', err: String(err) }, 'NATS connection closed; connecting again');
          void Bun.sleep(1000).then(connectLoop);
        });
        return;
      } catch (err) {
        setConnected(false);
        const wait = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6)) + Math.random() * 250;
        log.warn(
          { event: 'nats.connect_failed', url, err: String(err), retryMs: Math.round(wait) },
          'NATS unreachable',
        );
        await Bun.sleep(wait);
      }
    }
  };
  const ready = connectLoop();

  return {
    kind: 'nats',
    async publish(subject, data, options = {}) {
      // While reconnecting the client buffers publishes and sends them once back.
      if (!nc || nc.isClosed()) throw new Error('NATS is not connected');
      nc.publish(subject, JSON.stringify(data), { headers: headersOf(options) });
    },
    async publishDurable(subject, data, { stream, ...options }) {
      // Refused at once while disconnected: a client-side buffer would make it look sent when it is not.
      if (!nc || !js || nc.isClosed() || !connected) throw new BusUnavailable('NATS is not connected');
      const h = headersOf(options);
      try {
        await streams.ensure(nc, stream);
        await js.publish(subject, JSON.stringify(data), { headers: h, timeout: 2000 });
      } catch (err) {
        throw new BusUnavailable(`JetStream did not store the message: ${String(err)}`);
      }
    },
    subscribe(pattern, handler) {
      const entry: (typeof subscriptions)[number] = { pattern, handler };
      subscriptions.push(entry);
      if (nc) startSubscription(nc, entry);
      return () => {
        subscriptions.splice(subscriptions.indexOf(entry), 1);
        entry.stop?.();
      };
    },
    subscribeDurable(sub, handler) {
      const entry = { sub, handler };
      durables.push(entry);
      if (nc) void consume(nc, entry);
    },
    async check() {
      if (!nc || !connected) throw new Error('not connected to NATS');
      await nc.flush();
    },
    async close() {
      closing = true;
      for (const stop of stops) stop();
      await Promise.race([ready, Bun.sleep(100)]);
      if (nc && !nc.isClosed()) await nc.drain().catch(() => nc?.close());
    },
  };
}
