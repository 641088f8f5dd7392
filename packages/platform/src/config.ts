import { commonEnv, type EnvSource, env, langfuseEnv, langfuseTogether, parseEnv } from '@beacon/core';
import { z } from 'zod';
import { poolsEnvSchema } from './pools/domain';

const schema = z
  .object({
    ...commonEnv,
    ...langfuseEnv,
    BEACON_PORT: env.port(9000),
    BEACON_DATA_DIR: z.string().default('.data/platform'),
    /** Several platforms may share one engine: each manages only the containers labelled with its instance. */
    BEACON_INSTANCE: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,30}$/, 'must match ^[a-z0-9][a-z0-9-]{0,30}$')
      .default('default'),
    BEACON_NATS_URL: env.url(),
    /** This service's NATS credentials (a .creds file `bun run nats-auth` wrote). */
    BEACON_NATS_CREDS: z.string().optional(),
    /** Beacon's NATS authority (`bun run nats-auth`'s folder): each container gets credentials of its own. */
    BEACON_NATS_AUTH_DIR: z.string().optional(),
    /**
     * Publish each container's kernel (and health-check) port on this host address, for a platform and gateway
     * that run in containers of their own (compose): the containers' bridge lets no container reach another.
     */
    BEACON_KERNEL_PUBLISH_IP: z.string().optional(),
    /** How long a container's NATS credentials live; renewed every third of it while the container exists. */
    BEACON_NATS_CREDS_TTL: env.seconds(3600),
    /** The fleet every platform of several Docker hosts shares; unset, this platform is the whole fleet. */
    BEACON_DATABASE_URL: env.databaseUrl(),
    /** This platform's Docker host in the fleet. */
    BEACON_HOST_ID: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must match ^[a-z0-9][a-z0-9-]{0,62}$')
      .default('local'),
    /** Where the fleet's other platforms reach this one (default: its own host and port). */
    BEACON_ADVERTISE_URL: z.url().optional(),
    BEACON_STATS_INTERVAL: env.seconds(15),
    /**
     * Without the cgroup files, follow the engine's stats streams (a cycle takes ms) instead of one-shot calls
     * (about a second): the engine then samples every container each second (docs/platform.md#stats-collector).
     */
    BEACON_STATS_STREAM: env.bool(false),
    /** Resource history: raw samples kept this many hours, one-minute aggregates this many days. */
    BEACON_HISTORY_RAW_HOURS: z.coerce
      .number()
      .positive()
      .max(24 * 31)
      .default(24),
    BEACON_HISTORY_DAYS: z.coerce.number().positive().max(3660).default(30),
    /** The gateway's API, for the console's alerts and a container's dispatches (read through the platform). */
    BEACON_GATEWAY_URL: z.url().default('http://127.0.0.1:4000'),
    /** The gateway's BEACON_API_TOKEN when it has one (its alert list is on the user API). */
    BEACON_GATEWAY_API_TOKEN: z.string().optional(),
    BEACON_CONTAINER_TTL: env.seconds(3600),
    BEACON_CONTAINER_NETWORK: z.string().optional(),
    BEACON_DEFAULT_IMAGE: z.string().default('beacon-kernel:latest'),
    BEACON_DEFAULT_MEMORY_MB: env.positiveInt(512),
    BEACON_DEFAULT_CPUS: z.coerce.number().positive().default(1),
    /** Processes a container may run unless its create asks otherwise. */
    BEACON_DEFAULT_PIDS_LIMIT: env.positiveInt(512),
    /** The most a create may ask for (pidsLimit); unset: the default, so raising it is the operator's choice. */
    BEACON_MAX_PIDS_LIMIT: env.positiveInt(0),
    /** Capabilities a create may add back (capAdd), comma-separated; none by default. */
    BEACON_ALLOWED_CAPABILITIES: env.list(),
    /** The most memory (MiB) and CPUs one container may ask for; unset: the host's memory less 1 GiB, its cores. */
    BEACON_MAX_MEMORY_MB: z.coerce.number().int().positive().optional(),
    BEACON_MAX_CPUS: z.coerce.number().positive().optional(),
    BEACON_HEALTH_INTERVAL: env.seconds(30),
    BEACON_HEALTH_TIMEOUT: env.seconds(5),
    BEACON_HEALTH_RETRIES: env.positiveInt(3),
    /** A new container must pass its health check this fast for POST /api/containers to answer 201. */
    BEACON_CREATE_TIMEOUT: env.seconds(60),
    /** Restarts after an exit wait this long, doubling up to the maximum. */
    BEACON_RESTART_BACKOFF: env.seconds(10),
    BEACON_RESTART_BACKOFF_MAX: env.seconds(300),
    /** A stop behind the platform's back counts as the operator's once the engine outlives it this long. */
    BEACON_ENGINE_STOP_GRACE: env.seconds(20),
    BEACON_SECRETS_DIR: z.string().optional(),
    BEACON_SECRETS_MODE: z.enum(['hardened', 'legacy']).default('hardened'),
    BEACON_SECRETS_RUNTIME_DIR: z.string().default('/dev/shm/beacon-secrets'),
    BEACON_OP_VAULT: z.string().optional(),
    BEACON_OP_TOKEN_FILE: z.string().optional(),
    OP_SERVICE_ACCOUNT_TOKEN: z.string().optional(),
    /** Where the platform mints kernel keys; without it containers get no proxy key. */
    BEACON_PROXY_URL: env.url(),
    /** The proxy and NATS as a container sees them (e.g. http://proxy:8080 in compose). */
    BEACON_KERNEL_PROXY_URL: env.url(),
    BEACON_KERNEL_NATS_URL: env.url(),
    /** The trace collector as a container sees it (default BEACON_OTLP_URL): the kernels' spans go there. */
    BEACON_KERNEL_OTLP_URL: env.url(),
    /** How long a container's Langfuse session summary is reused before Langfuse is asked again. */
    BEACON_LANGFUSE_SUMMARY_TTL: env.seconds(60),
    BEACON_GRAFANA_URL: z.url().default('http://localhost:3200'),
    BEACON_COMMIT: z.string().optional(),
    BEACON_POOLS: poolsEnvSchema,
  })
  .refine(...langfuseTogether);

export type PlatformConfig = z.infer<typeof schema>;

export function loadConfig(source: EnvSource): PlatformConfig {
  return parseEnv(schema, source);
}
