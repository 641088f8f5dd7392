import { join } from 'node:path';
import { AppError, excluded, type Logger, openStore, type Store } from '@beacon/core';
import { and, eq, notInArray } from 'drizzle-orm';
import {
  auditLog,
  auditLogPg,
  fleetContainers,
  fleetContainersPg,
  fleetHosts,
  fleetHostsPg,
} from './db/fleet/schema';
import type { ContainerRow } from './db/schema/containers';
import { type ContainerView, toView } from './domain/container-view';
import type { ContainerSpec } from './domain/spec';

const schema = { fleetHosts, fleetContainers, auditLog };

/** The shared fleet: PostgreSQL at `url` (or a SQLite file several platforms on one machine may share). */
export const openFleetStore = (url: string | undefined, path: string, log?: Logger) =>
  openStore({
    url,
    path,
    log,
    migrations: join(import.meta.dir, '../drizzle/fleet'),
    sqlite: schema,
    pg: { fleetHosts: fleetHostsPg, fleetContainers: fleetContainersPg, auditLog: auditLogPg },
  });

export type FleetStore = Store<typeof schema>;

/** Every platform says it is alive this often; one not heard for LOST_AFTER_MS is lost. */
const HEARTBEAT_MS = 5_000;
export const LOST_AFTER_MS = 15_000;

/** up: heard and its engine answers; engine_down: heard, its engine does not; lost: not heard. */
export type HostState = 'up' | 'engine_down' | 'lost';

export interface FleetHost {
  host: string;
  url: string;
  state: HostState;
  seenAt: string;
}

export type FleetView = ContainerView & { host: string };

export interface FleetOptions {
  store: FleetStore;
  /** This platform's host (BEACON_HOST_ID) and where the others reach it. */
  host: string;
  url: string;
  log: Logger;
  /** This platform's records, as they are now. */
  records: () => ContainerRow[];
  /** Whether this platform's engine answers. */
  ping: () => Promise<unknown>;
  /** After each heartbeat: the hosts by state, and the containers lost with theirs. */
  onBeat?: (hosts: Record<HostState, number>, lost: number) => void;
  now?: () => number;
}

/**
 * One platform per Docker host, all on one database: each publishes its own containers (what changed, every
 * 2 s and after each change it makes) and a heartbeat with its engine's health; any one of them lists the
 * whole fleet, finds the host of a handle, and places a new container on the host that reserves the least
 * memory. Containers of a host not heard for LOST_AFTER_MS, or whose engine is down, are `lost`.
 */
export function createFleet({ store, host, url, log, records, ping, onBeat, now = Date.now }: FleetOptions) {
  const { db, t } = store;
  /** What this platform last wrote of each of its containers. */
  const published = new Map<string, string>();
  let syncing: Promise<void> = Promise.resolve();
  let timers: Timer[] = [];
  let firstSync = true;

  const stateOf = (row: { seenAt: number; engineUp: boolean }): HostState =>
    now() - row.seenAt > LOST_AFTER_MS ? 'lost' : row.engineUp ? 'up' : 'engine_down';

  async function writeChanges() {
    const rows = records();
    const changed = rows
      .map((row) => ({ row, view: JSON.stringify(toView(row)) }))
      .filter(({ row, view }) => published.get(row.handle) !== view);
    if (changed.length)
      await db
        .insert(t.fleetContainers)
        .values(
          changed.map(({ row }) => ({
            handle: row.handle,
            host,
            memoryMb: (row.spec as ContainerSpec).memoryMb ?? 0,
            view: toView(row),
            updatedAt: now(),
          })),
        )
        .onConflictDoUpdate({
          target: t.fleetContainers.handle,
          set: excluded(t.fleetContainers, ['handle']),
        });
    for (const { row, view } of changed) published.set(row.handle, view);
    const handles = rows.map((r) => r.handle);
    const gone = [...published.keys()].filter((h) => !handles.includes(h));
    // The first time, also what an earlier run of this platform left behind.
    if (gone.length || firstSync)
      await db
        .delete(t.fleetContainers)
        .where(
          and(
            eq(t.fleetContainers.host, host),
            handles.length ? notInArray(t.fleetContainers.handle, handles) : undefined,
          ),
        );
    for (const h of gone) published.delete(h);
    firstSync = false;
  }

  /** Publish this platform's containers now (one write at a time; a failed one is tried on the next). */
  function sync(): Promise<void> {
    syncing = syncing.then(writeChanges).catch((err: unknown) => {
      log.warn({ event: 'fleet.sync_failed', err: String(err) }, 'fleet not updated; trying again');
    });
    return syncing;
  }

  async function heartbeat() {
    const engineUp = await ping().then(
      () => true,
      () => false,
    );
    const row = { host, url, engineUp, seenAt: now() };
    await db
      .insert(t.fleetHosts)
      .values(row)
      .onConflictDoUpdate({ target: t.fleetHosts.host, set: excluded(t.fleetHosts, ['host']) });
  }
  const beat = () =>
    heartbeat()
      .then(async () => {
        if (!onBeat) return;
        const known = await hosts();
        const counts: Record<HostState, number> = { up: 0, engine_down: 0, lost: 0 };
        for (const h of known) counts[h.state]++;
        onBeat(counts, (await list(known)).filter((v) => v.state === 'lost').length);
      })
      .catch((err: unknown) =>
        log.warn({ event: 'fleet.heartbeat_failed', err: String(err) }, 'fleet heartbeat not written'),
      );

  async function hosts(): Promise<FleetHost[]> {
    const rows = await db.select().from(t.fleetHosts).orderBy(t.fleetHosts.host);
    return rows.map((r) => ({
      host: r.host,
      url: r.url,
      state: stateOf(r),
      seenAt: new Date(r.seenAt).toISOString(),
    }));
  }

  /** Every container of every host; those of a host that is not up are `lost` (`known`: the hosts, if read). */
  async function list(known?: FleetHost[]): Promise<FleetView[]> {
    const [rows, hostList] = await Promise.all([db.select().from(t.fleetContainers), known ?? hosts()]);
    const states = new Map(hostList.map((h) => [h.host, h.state]));
    return rows
      .map((r) => {
        const view = r.view as ContainerView;
        return { ...view, host: r.host, state: states.get(r.host) === 'up' ? view.state : 'lost' };
      })
      .sort((a, b) => a.handle.localeCompare(b.handle));
  }

  return {
    host,
    sync,
    /** Write this platform's heartbeat now (also every HEARTBEAT_MS once started). */
    beat,
    hosts,

    list,

    /** Where a handle's container runs. */
    async locate(handle: string): Promise<FleetHost | undefined> {
      const [row] = await db
        .select({ host: t.fleetContainers.host })
        .from(t.fleetContainers)
        .where(eq(t.fleetContainers.handle, handle));
      return row && (await hosts()).find((h) => h.host === row.host);
    },

    /** The host a new container goes to: the one asked for (it must be up), else the least reserved. */
    async place(requested?: string): Promise<FleetHost> {
      const known = (await hosts()).filter((h) => h.host === host || h.state === 'up');
      if (requested) {
        const wanted = known.find((h) => h.host === requested);
        if (!wanted) throw new AppError('bad_request', `body.host: no host ${requested} is up`);
        return wanted;
      }
      const rows = await db.select().from(t.fleetContainers);
      const reserved = new Map<string, number>();
      for (const r of rows)
        if ((r.view as ContainerView).state !== 'gone')
          reserved.set(r.host, (reserved.get(r.host) ?? 0) + r.memoryMb);
      const self: FleetHost = { host, url, state: 'up', seenAt: new Date(now()).toISOString() };
      return (
        known
          .map((h) => ({ h, mb: reserved.get(h.host) ?? 0 }))
          // Ties go to this platform: no hop.
          .sort((a, b) => a.mb - b.mb || Number(b.h.host === host) - Number(a.h.host === host))[0]?.h ?? self
      );
    },

    async start() {
      await store.ready;
      await beat();
      await sync();
      timers = [setInterval(beat, HEARTBEAT_MS), setInterval(sync, 2000)];
    },
    async stop() {
      for (const timer of timers) clearInterval(timer);
      await syncing;
      await store.close();
    },
  };
}

export type Fleet = ReturnType<typeof createFleet>;
