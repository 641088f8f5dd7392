import {
  commandSchema,
  createNatsBus,
  credsFile,
  kernelBusAuth,
  type Logger,
  type Probe,
  streams,
  subjects,
} from '@beacon/core';
import { z } from 'zod';
import type { Runner, TaskSink } from './runner';

export interface NatsSideOptions {
  url: string;
  /** The kernel's credentials file, when the platform gave it one (its own subjects only). */
  credsPath?: string | undefined;
  handle: string;
  runner: Runner;
  log: Logger;
}

const cancelSchema = z.object({ type: z.literal('cancel'), taskId: z.string() });

/** Every second for up to 10 minutes, until the bus has stored it. */
async function retryUntilStored(publish: () => Promise<void>) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await publish();
    } catch (err) {
      if (attempt >= 600) throw err;
      await Bun.sleep(1000);
    }
  }
}

/**
 * The kernel on NATS: commands on beacon.<handle>.commands, answers on beacon.<handle>.{progress,results,
 * errors,cancelled}. A command arrives twice — at once on core NATS, and from its JetStream work queue
 * (which also holds it while this kernel is away) — and runs once. A task's end is stored in JetStream,
 * retried while NATS is away, so the gateway gets it once NATS is back.
 */
export function startNatsSide({ url, credsPath, handle, runner, log }: NatsSideOptions) {
  const bus = createNatsBus({
    url,
    name: `beacon-kernel-${handle}`,
    log,
    ...(credsPath ? kernelBusAuth(handle, credsFile(credsPath)) : {}),
  });
  const progress = (data: { traceId: string }) =>
    void bus.publish(subjects.kernel(handle, 'progress'), data, { traceId: data.traceId }).catch(() => {});
  const settle = (kind: 'results' | 'errors' | 'cancelled') => (data: { traceId: string }) =>
    void retryUntilStored(() =>
      bus.publishDurable(subjects.kernel(handle, kind), data, {
        traceId: data.traceId,
        stream: streams.results,
      }),
    ).catch((err) => log.error({ event: 'kernel.publish_failed', kind, err: String(err) }, 'result lost'));
  const sink: TaskSink = {
    progress,
    result: settle('results'),
    error: settle('errors'),
    cancelled: settle('cancelled'),
  };
  const onCommand = (message: { data: unknown; traceparent?: string }) => {
    // Looked at before parsing: a command failing the cancel schema made an error (a stack capture) each time.
    if ((message.data as { type?: unknown } | null)?.type === 'cancel') {
      const cancel = cancelSchema.safeParse(message.data);
      if (cancel.success) return void runner.cancel(cancel.data.taskId);
    }
    const command = commandSchema.safeParse(message.data);
    if (!command.success) return log.warn({ event: 'kernel.invalid_command' }, command.error.message);
    void runner.execute(command.data, sink, message.traceparent);
  };
  bus.subscribe(subjects.commands(handle), onCommand);
  bus.subscribeDurable(
    { stream: streams.commands, durable: `kernel-${handle}`, filter: subjects.commands(handle) },
    onCommand,
  );
  return {
    stop: () => bus.close(),
    probe: { name: 'nats', timeoutMs: 1000, check: () => bus.check() } satisfies Probe,
  };
}
