import type { Logger } from '@beacon/core';
import type { DockerStatsJson } from '../domain/stats';
import type { DockerClient } from './docker';

interface Followed {
  abort: AbortController;
  latest?: DockerStatsJson;
  at: number;
}

/**
 * The engine's stats of each running container as a stream, as `docker stats` reads them, for a platform that
 * cannot read the cgroup files (rootless Docker, a remote engine): the engine pushes each container's sample
 * every second and a cycle takes the latest at once, instead of asking every container and waiting for the
 * engine's next 1 s tick (a one-shot cycle of 100 containers took 1.4–1.7 s). A sample older than `maxAgeMs`
 * is not used; a stream that ends or fails is opened again when next asked for.
 */
export function createStatsStreams(docker: Pick<DockerClient, 'statsStream'>, log: Logger, maxAgeMs = 5000) {
  const followed = new Map<string, Followed>();

  function follow(id: string) {
    const entry: Followed = { abort: new AbortController(), at: 0 };
    followed.set(id, entry);
    void (async () => {
      try {
        for await (const json of docker.statsStream(id, entry.abort.signal)) {
          entry.latest = json;
          entry.at = Date.now();
        }
      } catch (err) {
        if (!entry.abort.signal.aborted)
          log.info({ event: 'stats.stream_ended', id, err: String(err) }, 'stats stream ended');
      } finally {
        if (followed.get(id) === entry) followed.delete(id);
      }
    })();
  }

  return {
    /** The container's latest streamed sample, if fresh; the first ask starts following it. */
    latest(id: string): DockerStatsJson | undefined {
      const entry = followed.get(id);
      if (!entry) follow(id);
      else if (entry.latest && Date.now() - entry.at < maxAgeMs) return entry.latest;
      return undefined;
    },
    /** Stop following every container that is not in `ids` (stopped or gone). */
    keepOnly(ids: ReadonlySet<string>) {
      for (const [id, entry] of followed)
        if (!ids.has(id)) {
          entry.abort.abort();
          followed.delete(id);
        }
    },
  };
}

export type StatsStreams = ReturnType<typeof createStatsStreams>;
