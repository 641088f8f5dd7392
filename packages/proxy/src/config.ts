import { commonEnv, type EnvSource, env, langfuseEnv, langfuseTogether, parseEnv } from '@beacon/core';
import { z } from 'zod';

const schema = z
  .object({
    ...commonEnv,
    ...langfuseEnv,
    /** Send prompts and answers to Langfuse too (off: only model, tokens, cost, latency and status). */
    BEACON_LANGFUSE_CAPTURE_PROMPTS: env.bool(false),
    BEACON_PORT: env.port(8080),
    BEACON_DATA_DIR: z.string().default('.data/proxy'),
    BEACON_DATABASE_URL: env.databaseUrl(),
    BEACON_METRICS_MAX_USERS: env.positiveInt(500),
    BEACON_UPSTREAM_OPENAI_URL: z.url().default('https://api.openai.com'),
    BEACON_UPSTREAM_OPENAI_KEY: z.string().optional(),
    BEACON_UPSTREAM_ANTHROPIC_URL: z.url().default('https://api.anthropic.com'),
    BEACON_UPSTREAM_ANTHROPIC_KEY: z.string().optional(),
    BEACON_UPSTREAM_TIMEOUT: env.seconds(300),
    BEACON_PRICES_FILE: z.string().optional(),
    /** Upstreams by model (docs/configuration.md); without it, the BEACON_UPSTREAM_* variables. */
    BEACON_ROUTES_FILE: z.string().optional(),
    BEACON_COMMIT: z.string().optional(),
  })
  .refine(...langfuseTogether);

export type ProxyConfig = z.infer<typeof schema>;

export function loadConfig(source: EnvSource): ProxyConfig {
  return parseEnv(schema, source);
}
