import {
  commandSchema,
  configOrExit,
  createLogger,
  createNatsBus,
  type Probe,
  serveApp,
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
const stopSteps: (() => unknown)[] = [];
const probes: Probe[] = [];

// With NATS: commands on beacon.<handle>.commands, answers on beacon.<handle>.{progress,results,errors,cancelled}.
if (config.BEACON_NATS_URL) {
  const handle = config.BEACON_HANDLE;
  const bus = createNatsBus({ url: config.BEACON_NATS_URL, name: `beacon-kernel-${handle}`, log });
  const publish = (kind: string) => (data: { traceId: string }) =>
    void bus.publish(`beacon.${handle}.${kind}`, data, { traceId: data.traceId }).catch((err) => {
      log.warn({ event: 'kernel.publish_failed', kind, err: String(err) }, 'could not publish');
    });
  const sink: TaskSink = {
    progress: publish('progress'),
    result: publish('results'),
    error: publish('errors'),
    cancelled: publish('cancelled'),
  };
  const cancelSchema = z.object({ type: z.literal('cancel'), taskId: z.string() });
  bus.subscribe(subjects.commands(handle), (message) => {
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
