import {
  AckPolicy,
  connect,
  DeliverPolicy,
  type MsgHdrs,
  type NatsConnection,
  headers as natsHeaders,
  RetentionPolicy,
} from 'nats';
import type { Logger } from 'pino';
import type { BusHandler, BusMessage, DurableSubscription, EventBus } from './bus';

const TRACE_HEADER = 'Beacon-Trace-Id';

export interface NatsBusOptions {
  url: string;
  name: string;
  log: Logger;
  /** Called on every connection state change (for /health and metrics). */
  onStatus?: (connected: boolean) => void;
}

const decoder = new TextDecoder();

function toMessage(subject: string, data: Uint8Array, hdrs?: MsgHdrs): BusMessage | undefined {
  try {
    const traceId = hdrs?.get(TRACE_HEADER);
    return { subject, data: JSON.parse(decoder.decode(data)), ...(traceId ? { traceId } : {}) };
  } catch {
    return undefined;
  }
}

/**
 * The bus on NATS. Connects in the background and keeps reconnecting (with backoff and jitter) forever,
 * so a service starts and serves while NATS is away; /health reports it through check().
 */
export function createNatsBus({ url, name, log, onStatus }: NatsBusOptions): EventBus {
  let nc: NatsConnection | undefined;
  let closing = false;
  let connected = false;
  const setConnected = (value: boolean) => {
    connected = value;
    onStatus?.(value);
  };
  const subscriptions: { pattern: string; handler: BusHandler; stop?: () => void }[] = [];
  const durables: { sub: DurableSubscription; handler: BusHandler }[] = [];
  const stops: (() => void)[] = [];

  const deliver = async (handler: BusHandler, message: BusMessage | undefined) => {
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
      for await (const m of sub) await deliver(handler, toMessage(m.subject, m.data, m.headers));
    })();
  };

  const startDurable = async (conn: NatsConnection, { sub, handler }: (typeof durables)[number]) => {
    const jsm = await conn.jetstreamManager();
    try {
      await jsm.streams.info(sub.stream);
      await jsm.streams.update(sub.stream, { subjects: sub.subjects });
    } catch {
      await jsm.streams.add({
        name: sub.stream,
        subjects: sub.subjects,
        retention: RetentionPolicy.Limits,
        max_age: 7 * 24 * 3600 * 1e9,
      });
    }
    try {
      await jsm.consumers.info(sub.stream, sub.durable);
    } catch {
      await jsm.consumers.add(sub.stream, {
        durable_name: sub.durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
      });
    }
    const consumer = await conn.jetstream().consumers.get(sub.stream, sub.durable);
    const messages = await consumer.consume();
    stops.push(() => messages.stop());
    void (async () => {
      for await (const m of messages) {
        await deliver(handler, toMessage(m.subject, m.data, m.headers));
        m.ack();
      }
    })();
  };

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
        });
        nc = conn;
        setConnected(true);
        log.info({ event: 'nats.connected', url }, 'connected to NATS');
        void (async () => {
          for await (const s of conn.status()) {
            if (s.type === 'disconnect') setConnected(false);
            if (s.type === 'reconnect') {
              setConnected(true);
              log.info({ event: 'nats.reconnected' }, 'reconnected to NATS');
            }
          }
        })();
        for (const s of subscriptions) startSubscription(conn, s);
        for (const d of durables) await startDurable(conn, d);
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
      const h = natsHeaders();
      if (options.traceId) h.set(TRACE_HEADER, options.traceId);
      nc.publish(subject, JSON.stringify(data), { headers: h });
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
      if (nc) void startDurable(nc, entry);
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
