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
    /**
     * Output tokens a call that sends no max_tokens reserves from a budget (a quota's defaultMaxTokens wins).
     * Unset: 4,096 for chat and messages, the model's own limit for the Responses API.
     */
    BEACON_DEFAULT_MAX_TOKENS: z.coerce.number().int().min(1).max(1_000_000).optional(),
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
