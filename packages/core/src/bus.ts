import type { Logger } from 'pino';

export interface BusMessage<T = unknown> {
  subject: string;
  data: T;
  traceId?: string;
  /** The W3C trace context of the span that sent it (a NATS header). */
  traceparent?: string;
}

export type BusHandler = (message: BusMessage) => void | Promise<void>;

export interface PublishOptions {
  traceId?: string;
  traceparent?: string;
}

/** A JetStream stream: what it keeps and for how long (subjects in docs/dispatch.md; see `streams` in contracts). */
export interface StreamConfig {
  name: string;
  subjects: readonly string[];
  /** workqueue: a message goes once it is acknowledged; limits: kept for maxAgeSeconds. */
  retention: 'limits' | 'workqueue';
  maxAgeSeconds: number;
}

/** The bus cannot take a message now (NATS away): the caller is told at once, nothing is half-sent. */
export class BusUnavailable extends Error {}

/**
 * The event bus: subjects are dot-separated tokens, subscriptions may use NATS wildcards
 * (`*` one token, `>` the rest). In-process by default; NATS when BEACON_NATS_URL is set.
 */
export interface DurableSubscription {
  stream: StreamConfig;
  durable: string;
  /** Only these subjects of the stream (a kernel reads its own commands). */
  filter?: string;
}

export interface EventBus {
  readonly kind: 'memory' | 'nats';
  publish(subject: string, data: unknown, options?: PublishOptions): Promise<void>;
  /**
   * Publish into a stream and resolve once it is stored (NATS: JetStream's ack); throws BusUnavailable
   * when the bus cannot take it now. In process it is a plain publish.
   */
  publishDurable(
    subject: string,
    data: unknown,
    options: PublishOptions & { stream: StreamConfig },
  ): Promise<void>;
  subscribe(pattern: string, handler: BusHandler): () => void;
  /**
   * Messages on `subjects` survive the subscriber being down (NATS: a JetStream stream and durable
   * consumer). In process there is nothing to survive, so it is a plain subscription.
   */
  subscribeDurable(sub: DurableSubscription, handler: BusHandler): void;
  /** Throws when the bus cannot deliver right now (used by /health). */
  check(): Promise<void>;
  close(): Promise<void>;
}

export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

/** Delivers on a later microtask, so a publisher never runs its subscribers' code inline. */
export function createMemoryBus(log?: Logger): EventBus {
  const subscriptions = new Set<{ pattern: string; handler: BusHandler }>();
  const subscribe = (pattern: string, handler: BusHandler) => {
    const sub = { pattern, handler };
    subscriptions.add(sub);
    return () => subscriptions.delete(sub);
  };
  const bus: EventBus = {
    kind: 'memory',
    publishDurable: (subject, data, options) => bus.publish(subject, data, options),
    async publish(subject, data, options = {}) {
      const message: BusMessage = {
        subject,
        data,
        ...(options.traceId ? { traceId: options.traceId } : {}),
        ...(options.traceparent ? { traceparent: options.traceparent } : {}),
      };
      for (const sub of subscriptions) {
        if (!subjectMatches(sub.pattern, subject)) continue;
        queueMicrotask(async () => {
          try {
            await sub.handler(message);
          } catch (err) {
            log?.warn({ event: 'bus.handler_failed', subject, err }, 'bus subscriber failed');
          }
        });
      }
    },
    subscribe,
    subscribeDurable(sub, handler) {
      for (const pattern of sub.filter ? [sub.filter] : sub.stream.subjects) subscribe(pattern, handler);
    },
    async check() {},
    async close() {
      subscriptions.clear();
    },
  };
  return bus;
}
