import {
  commandSchema,
  configOrExit,
  createLogger,
  createNatsBus,
  type Probe,
  serveApp,
  streams,
  subjects,
} from '@beacon/core';
import { z } from 'zod';
import pkg from '../package.json';
import { createAgent, proxyKeyFrom } from './agent';
import { createApp } from './app';
import { loadConfig } from './config';
import { createRunner, type TaskSink } from './runner';

const config = configOrExit(() => loadConfig(Bun.env));
const log = createLogger({ service: 'kernel', level: config.BEACON_LOG_LEVEL }).child({
  handle: config.BEACON_HANDLE,
});
const agent = createAgent({
  proxyUrl: config.BEACON_PROXY_URL,
  proxyKey: proxyKeyFrom(config.BEACON_PROXY_KEY_FILE, config.BEACON_PROXY_KEY ?? ''),
  model: config.BEACON_MODEL,
  timeoutMs: config.BEACON_LLM_TIMEOUT * 1000,
  log,
});
const runner = createRunner(agent, log);

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
const stopSteps: (() => unknown)[] = [];
const probes: Probe[] = [];

// With NATS: commands on beacon.<handle>.commands, answers on beacon.<handle>.{progress,results,errors,cancelled}.
if (config.BEACON_NATS_URL) {
  const handle = config.BEACON_HANDLE;
  const bus = createNatsBus({ url: config.BEACON_NATS_URL, name: `beacon-kernel-${handle}`, log });
  const progress = (data: { traceId: string }) =>
    void bus.publish(subjects.kernel(handle, 'progress'), data, { traceId: data.traceId }).catch(() => {});
  // A task's end is stored in JetStream, retried while NATS is away: the gateway gets it once it is back.
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
  const cancelSchema = z.object({ type: z.literal('cancel'), taskId: z.string() });
  // Commands wait in JetStream until this kernel takes them (one durable consumer per handle).
  const commands = {
    stream: streams.commands,
    durable: `kernel-${handle}`,
    filter: subjects.commands(handle),
  };
  bus.subscribeDurable(commands, (message) => {
    const cancel = cancelSchema.safeParse(message.data);
    if (cancel.success) return void runner.cancel(cancel.data.taskId);
    const command = commandSchema.safeParse(message.data);
    if (!command.success) return log.warn({ event: 'kernel.invalid_command' }, command.error.message);
    void runner.execute(command.data, sink);
  });
  stopSteps.push(() => bus.close());
  probes.push({ name: 'nats', timeoutMs: 1000, check: () => bus.check() });
}

const app = createApp({ identity: { name: 'kernel', version: pkg.version }, runner, log, probes });

serveApp(app, { host: config.BEACON_HOST, port: config.BEACON_PORT, log, stopSteps });
