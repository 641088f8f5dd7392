import { AckPolicy, DeliverPolicy, type Msg, type NatsConnection, RetentionPolicy } from 'nats';
import type { BusHandler, DurableSubscription, StreamConfig } from './bus';

/** What a core or JetStream message has in common: where it went, its bytes and headers. */
export type RawMessage = Pick<Msg, 'subject' | 'data' | 'headers'>;

/**
 * The JetStream side of the NATS bus: streams made sure of once per connection (forgotten on reconnect: a new
 * server may not have them) and durable consumers whose messages are acked once their handler ran.
 */
export function createStreams(
  deliver: (handler: BusHandler, message: RawMessage) => Promise<void>,
  stops: (() => void)[],
  /** false: the streams are someone else's to make (a kernel's credentials may not). */
  manage = true,
) {
  /** Streams this connection has made sure of; forgotten on reconnect (a new server may not have them). */
  const ensured = new Set<string>();
  const ensure = async (conn: NatsConnection, stream: StreamConfig) => {
    if (!manage || ensured.has(stream.name)) return;
    const jsm = await conn.jetstreamManager();
    const config = { subjects: [...stream.subjects], max_age: stream.maxAgeSeconds * 1e9 };
    try {
      await jsm.streams.info(stream.name);
      await jsm.streams.update(stream.name, config);
    } catch {
      await jsm.streams.add({
        name: stream.name,
        ...config,
        retention: stream.retention === 'workqueue' ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
      });
    }
    ensured.add(stream.name);
  };

  const consume = async (conn: NatsConnection, sub: DurableSubscription, handler: BusHandler) => {
    await ensure(conn, sub.stream);
    const jsm = await conn.jetstreamManager();
    const stream = sub.stream.name;
    try {
      await jsm.consumers.info(stream, sub.durable);
    } catch {
      await jsm.consumers.add(stream, {
        durable_name: sub.durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ...(sub.filter ? { filter_subject: sub.filter } : {}),
      });
    }
    const consumer = await conn.jetstream().consumers.get(stream, sub.durable);
    const messages = await consumer.consume();
    stops.push(() => messages.stop());
    void (async () => {
      for await (const m of messages) {
        await deliver(handler, m);
        m.ack();
      }
    })();
  };

  return { ensure, consume, forget: () => ensured.clear() };
}
