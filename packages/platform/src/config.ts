import { commonEnv, type EnvSource, env, parseEnv } from '@beacon/core';
import { z } from 'zod';

const schema = z.object({
  ...commonEnv,
  BEACON_PORT: env.port(9000),
  BEACON_DATA_DIR: z.string().default('.data/platform'),
  BEACON_NATS_URL: env.url(),
  BEACON_STATS_INTERVAL: env.seconds(15),
  BEACON_CONTAINER_TTL: env.seconds(3600),
  BEACON_DEFAULT_IMAGE: z.string().default('beacon-kernel:latest'),
  BEACON_DEFAULT_MEMORY_MB: env.positiveInt(512),
  BEACON_DEFAULT_CPUS: z.coerce.number().positive().default(1),
  BEACON_COMMIT: z.string().optional(),
});

export type PlatformConfig = z.infer<typeof schema>;

export function loadConfig(source: EnvSource): PlatformConfig {
  return parseEnv(schema, source);
}
