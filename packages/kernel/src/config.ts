import {
  commonEnv,
  type EnvSource,
  env,
  KERNEL_TOKEN_FILE,
  NATS_CREDS_FILE,
  PROXY_KEY_FILE,
  parseEnv,
} from '@beacon/core';
import { z } from 'zod';

const schema = z.object({
  ...commonEnv,
  // Inside its container the kernel must answer on the container's address (health checks, HTTP dispatch).
  BEACON_HOST: z.string().default('0.0.0.0'),
  BEACON_PORT: env.port(7681),
  BEACON_HANDLE: z.string().min(1),
  BEACON_PROXY_URL: z.url(),
  /** For a kernel run by hand; the platform gives its containers the key as a file instead. */
  BEACON_PROXY_KEY: z.string().min(1).optional(),
  /** Written by the platform (a pool's tenant key replaces it); wins over BEACON_PROXY_KEY. */
  BEACON_PROXY_KEY_FILE: z.string().default(PROXY_KEY_FILE),
  /** What POST /v1/dispatch asks of its caller: written by the platform (the file wins), or given by env. */
  BEACON_KERNEL_TOKEN: z.string().min(16).optional(),
  BEACON_KERNEL_TOKEN_FILE: z.string().default(KERNEL_TOKEN_FILE),
  BEACON_NATS_URL: env.url(),
  /** Written by the platform when NATS runs with Beacon's accounts: this kernel's own subjects only. */
  BEACON_NATS_CREDS: z.string().default(NATS_CREDS_FILE),
  /** Who answers a message: the built-in agent (one chat call), or Codex CLI or Claude Code run per message. */
  BEACON_AGENT: z.enum(['builtin', 'codex', 'claude']).default('builtin'),
  /** Where an agent CLI runs and keeps its sessions; the image's working directory by default. */
  BEACON_WORKSPACE: z.string().default(process.cwd()),
  /** Unset: gpt-4o-mini for the built-in agent, each CLI driver's own default for the others. */
  BEACON_MODEL: z.string().min(1).optional(),
  BEACON_LLM_TIMEOUT: env.seconds(300),
  /**
   * The built-in agent's answer limit (max_completion_tokens): what a budget reserves for its call, rather than
   * the proxy's default for a call that says nothing (4,096).
   */
  BEACON_MAX_TOKENS: env.positiveInt(1024),
  /** How long a proxy refusing connections (restarting) is tried again before a dispatch fails. */
  BEACON_PROXY_RETRY: env.seconds(30),
});

export type KernelConfig = z.infer<typeof schema>;

/** The kernel runs inside its own container: binding to all of the container's addresses is its purpose. */
export function loadConfig(source: EnvSource): KernelConfig {
  return parseEnv(schema, source, { serviceChecks: false });
}
