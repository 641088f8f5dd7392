import {
  createMemoryBus,
  createNatsBus,
  credsFile,
  type EventBus,
  type Logger,
  type Probe,
  SSE_GAP_EVENT,
  SseBroadcaster,
  subjects,
} from '@beacon/core';
import { startBusBridge } from './bus-bridge';
import { startPlatformRelay } from './clients/platform-relay';
import type { GatewayStore } from './db';
import type { InteractionLogger } from './interaction-logger';
import { createTaskLedger } from './ledger';
import type { GatewayMetrics } from './metrics';
import { TaskStore } from './tasks';

export interface EventSideOptions {
  natsUrl?: string | undefined;
  /** The gateway's NATS credentials file (BEACON_NATS_CREDS). */
  natsCreds?: string | undefined;
  platformUrl: string;
  /** The platform's GET /api/events is an admin route. */
  adminToken?: string | undefined;
  sseQueueSize: number;
  metrics: GatewayMetrics;
  log: Logger;
  /** Durable consumer name; one per gateway instance that must not miss results. */
  durable?: string;
  /** Where tasks are kept across restarts; in memory only without it. */
  store?: GatewayStore;
  /** Where each ended dispatch is written (the ledger's last step). */
  interactions: Pick<InteractionLogger, 'write'>;
  onContainerEvent?: (handle: string) => void;
}

/**
 * The gateway's event side: bus (NATS, or in-process), SSE broadcaster, task store and ledger, the bridge
 * between them, and — without NATS — the relay of the platform's SSE. Returns its probes and a stop().
 */
export function startEventSide({
  natsUrl,
  natsCreds,
  platformUrl,
  adminToken,
  sseQueueSize,
  metrics,
  log,
  durable,
  store,
  interactions,
  onContainerEvent,
}: EventSideOptions) {
  const sse = new SseBroadcaster({
    queueSize: sseQueueSize,
    onClients: (n) => metrics.sseClients.set(n),
    onEvent: (type) => metrics.sseEvents.inc({ type }),
    onDropped: (n) => metrics.sseDropped.inc(n),
  });
  const tasks = new TaskStore(10_000, store);
  const bus: EventBus = natsUrl
    ? createNatsBus({ url: natsUrl, name: 'beacon-gateway', log, credentials: credsFile(natsCreds) })
    : createMemoryBus(log);
  const ledger = createTaskLedger({ tasks, sse, metrics, log, interactions });
  const bridge = startBusBridge({
    bus,
    ledger,
    sse,
    metrics,
    log,
    ...(durable ? { durable } : {}),
    ...(onContainerEvent ? { onContainerEvent } : {}),
  });
  const relay = natsUrl
    ? undefined
    : startPlatformRelay({
        url: `${platformUrl.replace(/\/$/, '')}/api/events`,
        ...(adminToken ? { token: adminToken } : {}),
        log,
        onEvent: (e) => {
          try {
            if (e.event === SSE_GAP_EVENT) {
              // Events were lost beyond what the platform keeps: said, so clients list containers again.
              log.warn({ event: 'relay.gap', gap: e.data }, 'platform events were missed; reconcile');
              sse.broadcast('platform.reconcile', { reason: 'gap', ...JSON.parse(e.data) });
            } else if (e.event.startsWith('container.'))
              bridge.onContainer({ subject: subjects.platformEvents, data: JSON.parse(e.data) });
          } catch {
            log.warn(
              { event: 'relay.invalid_event', type: e.event },
              'platform sent an event that is not JSON',
            );
          }
        },
      });
  const probes: Probe[] = [
    natsUrl
      ? // Dispatch goes over NATS: without it the gateway cannot do its job.
        { name: 'nats', required: true, timeoutMs: 1000, check: () => bus.check() }
      : {
          name: 'platform_events',
          check: async () => {
            if (!relay?.connected) throw new Error("not receiving the platform's event stream");
          },
        },
  ];
  return {
    bus,
    bridge,
    sse,
    tasks,
    ledger,
    probes,
    async stop() {
      relay?.stop();
      bridge.stop();
      sse.close();
      await bus.close();
      await tasks.flush();
    },
  };
}
