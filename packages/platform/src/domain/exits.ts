import type { LastExit } from '../db/schema/containers';

/**
 * Container ids with a deadline: the platform's own stops and removals (the engine's `die` for them is
 * no death), and OOM incidents (the engine may report one kill several times). Pure bookkeeping, no I/O.
 */
export class Marks {
  readonly #until = new Map<string, number>();

  /** Mark `id` for `ms` from `now`. */
  mark(id: string | null | undefined, ms: number, now = Date.now()): void {
    if (id) this.#until.set(id, now + ms);
  }

  has(id: string, now = Date.now()): boolean {
    const until = this.#until.get(id);
    if (until === undefined) return false;
    if (until >= now) return true;
    this.#until.delete(id);
    return false;
  }

  clear(id: string): void {
    this.#until.delete(id);
  }

  /** Marks `id` unless it is marked already: true the first time within `ms`. */
  first(id: string, ms: number, now = Date.now()): boolean {
    if (this.has(id, now)) return false;
    for (const [key, until] of this.#until) if (until < now) this.#until.delete(key);
    this.mark(id, ms, now);
    return true;
  }
}

/** The engine's word on how a container's process ended (inspect's State). */
export interface ContainerExit {
  code: number;
  oomKilled: boolean;
  finishedAt: string;
  /** The engine's error text, if it gave one (e.g. a failed start). */
  error: string;
}

/** How a container ended, from the engine's State, and how long it had been up (for the backoff). */
export function lastExitOf(
  exit: ContainerExit | undefined,
  startedAt: string | undefined,
  now = new Date(),
): { lastExit: LastExit; upMs: number } {
  const lastExit: LastExit = {
    code: exit?.code ?? -1,
    oomKilled: exit?.oomKilled ?? false,
    at: exit?.finishedAt ?? now.toISOString(),
    reason: exit?.oomKilled ? 'oom' : exit?.error || `exited with code ${exit?.code ?? 'unknown'}`,
  };
  const upMs = startedAt ? Date.parse(lastExit.at) - Date.parse(startedAt) : 0;
  return { lastExit, upMs: Number.isFinite(upMs) ? upMs : 0 };
}
