import type { Logger } from '@beacon/core';
import { belongsTo, DEFAULT_INSTANCE, type DockerClient, LABELS } from '../clients/docker';
import { LineSplitter } from '../clients/engine-streams';
import type { PlatformMetrics } from '../metrics';
import type { PlatformEvents } from './events';

/** Engine actions the platform follows, and the bus event type each becomes. */
const ACTIONS: Record<string, string> = {
  create: 'container.created',
  start: 'container.started',
  stop: 'container.stopped',
  die: 'container.died',
  destroy: 'container.destroyed',
  oom: 'container.oom',
  health_status: 'container.health_status',
};

interface EngineEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
}

export interface DockerEventWatcherOptions {
  docker: DockerClient;
  metrics: PlatformMetrics;
  log: Logger;
  events: Pick<PlatformEvents, 'emit'>;
  /** Re-list after every reconnect, so what changed during the gap is not missed. */
  reconcile: () => Promise<unknown>;
  /**
   * An action on one of this instance's containers. With it, exits and OOM kills are the handler's to
   * report (once per incident, and not at all for the platform's own stops and removals).
   */
  /**
   * A managed container's action, in order; `stream.unbroken()` says later whether the stream that told it is
   * still the live one (an engine that shuts down ends it).
   */
  onState?: (handle: string, action: string, id: string, stream: EngineStream) => Promise<unknown>;
  instance?: string;
  reconnectMs?: number;
}

/** Whether the event stream that told of an action is still the open one. */
export interface EngineStream {
  unbroken(): boolean;
}

/** Follows the engine's event stream for managed containers; reconnects 1 s after it dies. */
export class DockerEventWatcher {
  readonly #o: DockerEventWatcherOptions;
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #connections = 0;
  /** Whether the current stream is still open. */
  #live = false;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: DockerEventWatcherOptions) {
    this.#o = options;
  }

  get connections(): number {
    return this.#connections;
  }

  start(): void {
    if (this.#loop) return;
    this.#abort = new AbortController();
    const signal = this.#abort.signal;
    this.#loop = (async () => {
      while (!signal.aborted) {
        try {
          const stream = await this.#o.docker.events(signal);
          this.#connections++;
          this.#o.log.info(
            { event: 'docker.events_connected', connection: this.#connections },
            'watching engine events',
          );
          if (this.#connections > 1) await this.#o.reconcile();
          const lines = new LineSplitter();
          this.#live = true;
          for await (const chunk of stream as AsyncIterable<Buffer | string>) {
            for (const line of lines.push(chunk.toString())) this.#handle(line);
          }
          this.#live = false;
          if (!signal.aborted)
            this.#o.log.warn({ event: 'docker.events_ended' }, 'engine event stream ended');
        } catch (err) {
          this.#live = false;
          if (signal.aborted) break;
          this.#o.log.warn({ event: 'docker.events_failed', err: String(err) }, 'engine event stream failed');
        }
        if (!signal.aborted) await Bun.sleep(this.#o.reconnectMs ?? 1000);
      }
    })();
  }

  async stop(): Promise<void> {
    this.#abort?.abort();
    await this.#loop?.catch(() => {});
    this.#loop = undefined;
  }

  #handle(line: string) {
    let e: EngineEvent;
    try {
      e = JSON.parse(line);
    } catch {
      this.#o.log.warn(
        { event: 'docker.event_unparsable', line: line.slice(0, 200) },
        'unparsable engine event',
      );
      return;
    }
    const attributes = e.Actor?.Attributes ?? {};
    if (e.Type !== 'container' || !belongsTo(attributes, this.#o.instance ?? DEFAULT_INSTANCE)) return;
    const action = (e.Action ?? '').split(':')[0] ?? '';
    const type = ACTIONS[action];
    if (!type) return;
    const handle = attributes[LABELS.handle] ?? attributes.name ?? '';
    const id = e.Actor?.ID ?? '';
    this.#o.metrics.dockerEvents.inc({ action });
    const detail: Record<string, unknown> = {};
    if (attributes.exitCode !== undefined) detail.exitCode = Number(attributes.exitCode);
    if (action === 'health_status') detail.status = (e.Action ?? '').split(':')[1]?.trim();
    const report = () =>
      this.#o.events.emit(type, handle, id, Object.keys(detail).length ? detail : undefined);
    const { onState } = this.#o;
    const connection = this.#connections;
    if (!onState) {
      if (action === 'oom') this.#o.metrics.oomKills.inc({ handle });
      return report();
    }
    // Handled in order per stream: a die is settled before the destroy that follows it.
    this.#queue = this.#queue
      .then(() =>
        onState(handle, action, id, { unbroken: () => this.#connections === connection && this.#live }),
      )
      .then(() => {
        if (action !== 'die' && action !== 'oom') report();
      })
      .catch((err) =>
        this.#o.log.warn(
          { event: 'docker.event_failed', handle, action, err: String(err) },
          'engine event not applied',
        ),
      );
  }
}
