import { commonEnv, type EnvSource, env, parseEnv } from '@beacon/core';
import { z } from 'zod';

const schema = z.object({
  ...commonEnv,
  BEACON_PORT: env.port(8080),
  BEACON_DATA_DIR: z.string().default('.data/proxy'),
  BEACON_METRICS_MAX_USERS: env.positiveInt(500),
  BEACON_COMMIT: z.string().optional(),
});

export type ProxyConfig = z.infer<typeof schema>;

export function loadConfig(source: EnvSource): ProxyConfig {
  return parseEnv(schema, source);
}
