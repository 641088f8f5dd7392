import { commonEnv, type EnvSource, env, parseEnv } from '@beacon/core';
import { z } from 'zod';

const schema = z.object({
  ...commonEnv,
  BEACON_PORT: env.port(4000),
  BEACON_PLATFORM_URL: z.url().default('http://127.0.0.1:9000'),
  BEACON_PROXY_URL: z.url().default('http://127.0.0.1:8080'),
  BEACON_NATS_URL: env.url(),
  BEACON_HOME: z.string().default('.data/home'),
  BEACON_DATA_DIR: z.string().default('.data/gateway'),
  BEACON_SSE_QUEUE_SIZE: env.positiveInt(256),
  BEACON_DISPATCH_TIMEOUT: env.seconds(120),
  BEACON_ALERT_TOKEN: z.string().optional(),
  BEACON_COMMIT: z.string().optional(),
});

export type GatewayConfig = z.infer<typeof schema>;

export function loadConfig(source: EnvSource): GatewayConfig {
  return parseEnv(schema, source);
}
