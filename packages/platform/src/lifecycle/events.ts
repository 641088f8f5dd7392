import { type ContainerEvent, type EventBus, type Logger, SseBroadcaster, subjects } from '@beacon/core';
import { desc, lte, sql } from 'drizzle-orm';
import type { PlatformDb } from '../db';
import { events as eventLog } from '../db/schema/events';

/** Events kept for replay (SSE ring and table alike). */
const KEEP = 1024;

/**
 * Container events leave the platform two ways: on the bus (beacon.platform.events, for NATS
 * deployments) and as SSE on GET /api/events (the gateway relays it when there is no NATS). With a
 * database the last events are stored under their SSE id, so a Last-Event-ID from before a restart
 * replays what the client missed; a gap larger than what is kept is announced (SSE_GAP_EVENT).
 */
export function createPlatformEvents(bus: EventBus, log: Logger, db?: PlatformDb) {
  const history = db ? db.select().from(eventLog).orderBy(desc(eventLog.id)).limit(KEEP).all().reverse() : [];
  const sse = new SseBroadcaster({ ringSize: KEEP, history });
  const store = (id: number, type: string, data: ContainerEvent) => {
    if (!db) return;
    try {
      db.insert(eventLog).values({ id, type, data }).run();
      if (id % 128 === 0)
        db.delete(eventLog)
          .where(lte(eventLog.id, id - KEEP))
          .run();
    } catch (err) {
      // Live clients still get it; only a replay after a restart would miss it.
      log.warn({ event: 'platform.event_not_stored', type, id, err: String(err) }, 'event not stored');
    }
  };
  const listeners = new Set<(event: ContainerEvent) => void>();
  return {
    sse,
    /** A container's events among the last ones kept, newest first (its timeline). */
    timeline(handle: string, limit = 50): ContainerEvent[] {
      if (!db) return [];
      return db
        .select({ data: eventLog.data })
        .from(eventLog)
        .where(sql`json_extract(${eventLog.data}, '$.handle') = ${handle}`)
        .orderBy(desc(eventLog.id))
        .limit(limit)
        .all()
        .map((r) => r.data as ContainerEvent);
    },
    /** In-process listeners (the console refreshes on every container event). */
    listen(listener: (event: ContainerEvent) => void) {
      listeners.add(listener);
    },
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
      store(sse.broadcast(type, event), type, event);
      for (const listener of listeners) listener(event);
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
