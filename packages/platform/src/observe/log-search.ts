import { AppError, mapWithConcurrency } from '@beacon/core';
import type { DockerClient } from '../clients/docker';
import type { FoundLine, LokiClient, LokiQuery } from '../clients/loki';
import { containerName } from '../domain/spec';
import type { ContainerService } from '../lifecycle/containers';

/** Engine log reads in flight at once when searching without Loki. */
const ENGINE_READS = 8;

export interface LogSearchDeps {
  containers: Pick<ContainerService, 'list'>;
  docker: Pick<DockerClient, 'logs'>;
  /** With BEACON_LOKI_URL: every container's and service's logs, by LogQL. */
  loki?: LokiClient | undefined;
}

/**
 * Log search across containers, newest first. With Loki: one LogQL query over every container and
 * service (a trace id finds one dispatch across all of them). Without: every managed container's engine logs
 * over the whole window, read concurrently (bounded), filtered as read, merged by time.
 */
export function createLogSearch({ containers, docker, loki }: LogSearchDeps) {
  async function fromEngine({ q, handle, traceId, since, until, limit }: LokiQuery): Promise<FoundLine[]> {
    const handles = handle
      ? [handle]
      : containers
          .list()
          .filter((r) => r.state !== 'gone')
          .map((r) => r.handle);
    const needle = q?.toLowerCase();
    const window = { since: since.getTime() / 1000, until: until.getTime() / 1000 };
    const found = await mapWithConcurrency(handles, ENGINE_READS, async (h) => {
      const lines = await docker.logs(containerName(h), window).catch((err: unknown) => {
        if (err instanceof AppError && err.code === 'not_found') return [];
        throw err;
      });
      const matching: FoundLine[] = [];
      for (const line of lines)
        if (
          (!needle || line.message.toLowerCase().includes(needle)) &&
          (!traceId || line.message.includes(traceId))
        )
          matching.push({
            timestamp: line.timestamp,
            handle: h,
            service: null,
            stream: line.stream,
            message: line.message,
          });
      return matching.slice(-limit);
    });
    return found
      .flat()
      .sort((a, b) => b.timestamp.localeCompare(a.timestamp))
      .slice(0, limit);
  }

  return {
    source: loki ? ('loki' as const) : ('engine' as const),
    search: (query: LokiQuery) => (loki ? loki.search(query) : fromEngine(query)),
  };
}

export type LogSearch = ReturnType<typeof createLogSearch>;
