import type { Logger } from 'pino';

export type ShutdownStep = () => unknown | Promise<unknown>;

/**
 * On SIGTERM/SIGINT run the steps in order (stop accepting, stop timers, close clients),
 * then exit; a step that hangs cannot keep the process past the deadline.
 */
export function onShutdown(log: Logger, steps: ShutdownStep[], deadlineMs = 10_000): () => Promise<void> {
  let running: Promise<void> | undefined;
  const shutdown = () => {
    running ??= (async () => {
      log.info({ event: 'service.stopping' }, 'shutting down');
      const deadline = setTimeout(() => {
        log.error({ event: 'service.shutdown_timeout', deadlineMs }, 'shutdown deadline passed; exiting');
        process.exit(1);
      }, deadlineMs);
      deadline.unref();
      for (const step of steps) {
        try {
          await step();
        } catch (err) {
          log.warn({ event: 'service.shutdown_step_failed', err }, 'shutdown step failed');
        }
      }
      clearTimeout(deadline);
      log.info({ event: 'service.stopped' }, 'stopped');
    })();
    return running;
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void shutdown().then(() => process.exit(0));
    });
  }
  return shutdown;
}
