import {
  type BusKind,
  type BusMessage,
  busKinds,
  busSchemas,
  containerEventSchema,
  type EventBus,
  type Logger,
  parseSubject,
  type SseBroadcaster,
  streams,
  subjects,
} from '@beacon/core';
import type { TaskLedger } from './ledger';
import type { GatewayMetrics } from './metrics';

export interface BridgeDeps {
  bus: EventBus;
  ledger: TaskLedger;
  sse: SseBroadcaster;
  metrics: GatewayMetrics;
  log: Logger;
  durable?: string;
  /** Told of every container event, e.g. to forget a cached address. */
  onContainerEvent?: (handle: string) => void;
}

const KERNEL_GONE = new Set(['container.died', 'container.destroyed', 'container.oom']);

/**
 * Kernel messages (beacon.<handle>.<kind>) and container events (beacon.platform.events) from the bus: the
 * subject read, the event checked, and handed on — kernel messages to the task ledger, container events to
 * SSE (and the ledger, when a kernel is gone). Invalid ones are counted and dropped.
 */
export function startBusBridge({
  bus,
  ledger,
  sse,
  metrics,
  log,
  durable = 'gateway',
  onContainerEvent,
}: BridgeDeps) {
  const onKernel = (message: BusMessage, options: { quiet?: boolean } = {}) => {
    const parsed = parseSubject(message.subject);
    if (!parsed || parsed.handle === 'platform' || !(parsed.kind in busSchemas)) return;
    ledger.kernel(parsed.kind as BusKind, parsed.handle, message.data, options);
  };

  const onContainer = (message: BusMessage) => {
    const result = containerEventSchema.safeParse(message.data);
    if (!result.success) {
      metrics.busInvalid.inc({ kind: 'container' });
      log.warn(
        { event: 'bus.invalid_message', subject: message.subject, problem: result.error.message },
        'dropped an invalid bus message',
      );
      return;
    }
    metrics.busMessages.inc({ kind: 'container' });
    onContainerEvent?.(result.data.handle);
    sse.broadcast(result.data.type, result.data);
    if (KERNEL_GONE.has(result.data.type)) ledger.kernelGone(result.data.handle, result.data.type);
  };

  const stops = [
    // Everything on core NATS at once; a task's end also from JetStream below, for what core NATS missed.
    ...busKinds.map((kind) => bus.subscribe(`beacon.*.${kind}`, onKernel)),
    bus.subscribe(subjects.platformEvents, onContainer),
  ];
  // Ends of tasks survive a gateway restart or a NATS outage: JetStream keeps them for this consumer.
  // The copy of what core NATS already brought is dropped without a word (it was counted once).
  bus.subscribeDurable({ stream: streams.results, durable }, (m) => onKernel(m, { quiet: true }));
  return {
    /** Apply a container event that arrived by another way (the platform's SSE relay). */
    onContainer,
    stop: () => {
      for (const stop of stops) stop();
    },
  };
}
