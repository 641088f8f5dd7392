import { existsSync } from 'node:fs';
import { configOrExit, createLogger, createTracing, type Probe, serveApp } from '@beacon/core';
import pkg from '../package.json';
import { createAgent, proxyKeyFrom } from './agent';
import { createApp } from './app';
import { claudeDriver } from './cli/claude';
import { createCliAgent } from './cli/cli-agent';
import { codexDriver } from './cli/codex';
import { loadConfig } from './config';
import { startNatsSide } from './nats-side';
import { createRunner } from './runner';

const config = configOrExit(() => loadConfig(Bun.env));
const log = createLogger({ service: 'kernel', level: config.BEACON_LOG_LEVEL }).child({
  handle: config.BEACON_HANDLE,
});
const proxyKey = proxyKeyFrom(config.BEACON_PROXY_KEY_FILE, config.BEACON_PROXY_KEY ?? '');
const drivers = { codex: codexDriver, claude: claudeDriver };
const agent =
  config.BEACON_AGENT === 'builtin'
    ? createAgent({
        proxyUrl: config.BEACON_PROXY_URL,
        proxyKey,
        model: config.BEACON_MODEL ?? 'gpt-4o-mini',
        maxTokens: config.BEACON_MAX_TOKENS,
        timeoutMs: config.BEACON_LLM_TIMEOUT * 1000,
        retryMs: config.BEACON_PROXY_RETRY * 1000,
        log,
      })
    : createCliAgent({
        driver: drivers[config.BEACON_AGENT](),
        workspace: config.BEACON_WORKSPACE,
        proxyUrl: config.BEACON_PROXY_URL,
        proxyKey,
        model: config.BEACON_MODEL,
        timeoutMs: config.BEACON_LLM_TIMEOUT * 1000,
        env: Bun.env,
        log,
      });
log.info(
  { event: 'kernel.agent', agent: config.BEACON_AGENT },
  `answering with the ${config.BEACON_AGENT} agent`,
);
// Spans exported with BEACON_OTLP_URL (the platform passes it); logs reach Loki from stdout (Alloy).
const tracing = createTracing({ service: 'kernel', version: pkg.version, otlpUrl: config.BEACON_OTLP_URL });
const runner = createRunner(agent, log, tracing);

const stopSteps: (() => unknown)[] = [];
const probes: Probe[] = tracing.probe ? [tracing.probe] : [];

if (config.BEACON_NATS_URL) {
  const creds = existsSync(config.BEACON_NATS_CREDS) ? config.BEACON_NATS_CREDS : undefined;
  const nats = startNatsSide({
    url: config.BEACON_NATS_URL,
    credsPath: creds,
    handle: config.BEACON_HANDLE,
    runner,
    log,
  });
  stopSteps.push(nats.stop);
  probes.push(nats.probe);
}

// The platform's file wins over the env (a recycled container keeps its handle's token).
const tokenFile = Bun.file(config.BEACON_KERNEL_TOKEN_FILE);
const token = (await tokenFile.exists()) ? (await tokenFile.text()).trim() : config.BEACON_KERNEL_TOKEN;
if (!token)
  log.warn({ event: 'kernel.open' }, 'no kernel token: POST /v1/dispatch answers anyone who reaches it');
const app = createApp({ identity: { name: 'kernel', version: pkg.version }, runner, log, probes, token });

serveApp(app, {
  host: config.BEACON_HOST,
  port: config.BEACON_PORT,
  log,
  stopSteps: [...stopSteps, tracing.shutdown],
});
