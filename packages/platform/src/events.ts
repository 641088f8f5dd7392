import { type ContainerEvent, type EventBus, type Logger, SseBroadcaster, subjects } from '@beacon/core';

/**
 * Container events leave the platform two ways: on the bus (beacon.platform.events, for NATS
 * deployments) and as SSE on GET /api/events (the gateway relays it when there is no NATS).
 */
export function createPlatformEvents(bus: EventBus, log: Logger) {
  const sse = new SseBroadcaster();
  return {
    sse,
    emit(
      type: ContainerEvent['type'],
      handle: string,
      containerId: string,
      detail?: Record<string, unknown>,
    ) {
      const event: ContainerEvent = {
        type,
        handle,
        containerId,
        at: new Date().toISOString(),
        ...(detail ? { detail } : {}),
      };
      sse.broadcast(type, event);
      bus.publish(subjects.platformEvents, event).catch((err) => {
        log.warn(
          { event: 'bus.publish_failed', type, handle, err: String(err) },
          'container event not published',
        );
      });
    },
    close() {
      sse.close();
    },
  };
}

export type PlatformEvents = ReturnType<typeof createPlatformEvents>;
