import { ConfigError, commonEnv, type EnvSource, env, parseEnv } from '@beacon/core';
import { z } from 'zod';

const schema = z.object({
  ...commonEnv,
  BEACON_PORT: env.port(4000),
  BEACON_PLATFORM_URL: z.url().default('http://127.0.0.1:9000'),
  BEACON_NATS_URL: env.url(),
  /** This service's NATS credentials (a .creds file `bun run nats-auth` wrote). */
  BEACON_NATS_CREDS: z.string().optional(),
  BEACON_HOME: z.string().default('.data/home'),
  BEACON_DATA_DIR: z.string().default('.data/gateway'),
  BEACON_DATABASE_URL: env.databaseUrl(),
  BEACON_SSE_QUEUE_SIZE: env.positiveInt(256),
  BEACON_DISPATCH_TIMEOUT: env.seconds(120),
  /** Days a task stays answerable on GET /api/tasks/:id (gateway.sqlite under BEACON_DATA_DIR). */
  BEACON_TASK_RETENTION: env.positiveInt(7),
  BEACON_ALERT_TOKEN: z.string().optional(),
  /** Where the alerts' runbook sections are read (your copy of docs/runbook.md); else the platform's /docs/runbook. */
  BEACON_RUNBOOK_URL: z.url().optional(),
  /** Guards the user API (message, web shell, events, tasks, alerts list, artifacts) when set. */
  BEACON_API_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  BEACON_COMMIT: z.string().optional(),
  BEACON_ARTIFACT_MODE: z.enum(['off', 'warn', 'enforce']).default('warn'),
  // Bun.serve refuses bodies over 128 MiB before any route sees them.
  BEACON_ARTIFACT_MAX_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .max(128 * 1024 * 1024)
    .default(50 * 1024 * 1024),
  BEACON_S3_ENDPOINT: env.url(),
  BEACON_S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name')
    .default('artifacts'),
  BEACON_S3_ACCESS_KEY: z.string().optional(),
  BEACON_S3_SECRET_KEY: z.string().optional(),
  BEACON_S3_REGION: z.string().default('us-east-1'),
});

export type GatewayConfig = z.infer<typeof schema>;

export function loadConfig(source: EnvSource): GatewayConfig {
  const config = parseEnv(schema, source);
  if (config.BEACON_S3_ENDPOINT && !(config.BEACON_S3_ACCESS_KEY && config.BEACON_S3_SECRET_KEY))
    throw new ConfigError([
      'BEACON_S3_ACCESS_KEY, BEACON_S3_SECRET_KEY: required when BEACON_S3_ENDPOINT is set',
    ]);
  return config;
}
