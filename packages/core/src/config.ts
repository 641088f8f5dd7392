import { z } from 'zod';

/** Raised at start when the environment is wrong; lists every problem at once. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export type EnvSource = Record<string, string | undefined>;

/**
 * Validate `source` (usually Bun.env) against a schema whose keys are env variable names.
 * Empty strings count as unset so `FOO=` falls back to the default.
 */
export function parseEnv<S extends z.ZodType>(
  schema: S,
  source: EnvSource,
  /** The checks for a Beacon service (bind safety, unsupported variables); the in-container kernel skips them. */
  { serviceChecks = true }: { serviceChecks?: boolean } = {},
): z.infer<S> {
  const cleaned: Record<string, string> = {};
  for (const [key, value] of Object.entries(source))
    if (value !== undefined && value !== '') cleaned[key] = value;
  const result = schema.safeParse(cleaned);
  const problems = result.success
    ? []
    : result.error.issues.map((issue) => {
        const key = issue.path.map(String).join('.');
        const got =
          key in cleaned && !/TOKEN|KEY|SECRET|PASSWORD|_URL$/.test(key) ? ` (got "${cleaned[key]}")` : '';
        return `${key || 'config'}: ${issue.message}${got}`;
      });
  const bindProblem =
    serviceChecks && checkBind(cleaned.BEACON_HOST ?? '127.0.0.1', cleaned.BEACON_ADMIN_TOKEN);
  if (bindProblem) problems.push(`BEACON_HOST: ${bindProblem}`);
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return result.data;
}

export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  seconds: (fallback: number) => z.coerce.number().min(0).default(fallback),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  url: () => z.url().optional(),
  /** A shared PostgreSQL store (`postgres://user:password@host:5432/db`); unset, SQLite under BEACON_DATA_DIR. */
  databaseUrl: () =>
    z
      .string()
      .regex(/^postgres(ql)?:\/\/[^/]+/, 'must be a postgres:// URL (postgres://user:password@host:5432/db)')
      .optional(),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  /** A comma-separated list: `a, b` → ['a', 'b']; unset → []. */
  list: () =>
    z
      .string()
      .default('')
      .transform((v) =>
        v
          .split(',')
          .map((part) => part.trim())
          .filter(Boolean),
      ),
  logLevel: () => z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
};

/** The variables every service shares (docs/configuration.md). */
export const commonEnv = {
  BEACON_HOST: z.string().default('127.0.0.1'),
  BEACON_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  BEACON_METRICS_TOKEN: z.string().optional(),
  /** Where /metrics is served; it must not shadow the shared routes or the API. */
  BEACON_METRICS_PATH: z
    .string()
    .regex(/^\/[A-Za-z0-9/_.-]+$/, 'must be a path starting with /')
    .refine(
      (p) => !/^\/(health|ready|version|api|admin|v1|ws)(\/|$)/.test(p),
      'must not shadow another route',
    )
    .default('/metrics'),
  BEACON_METRICS_ENABLED: env.bool(true),
  BEACON_LOG_LEVEL: env.logLevel(),
  /** Also push the service's logs to Loki (base URL; pino-loki). */
  BEACON_LOKI_URL: env.url(),
  /** Export the service's spans over OTLP/HTTP (base URL; spans go to `/v1/traces`). */
  BEACON_OTLP_URL: env.url(),
  /** Dotted host names this service answers to besides loopback, IP literals and one-label names (421 otherwise). */
  BEACON_ALLOWED_HOSTS: env.list(),
  /** Origins whose pages may write to this service or open its WebSockets (403 otherwise). */
  BEACON_ALLOWED_ORIGINS: env.list(),
};

/** Langfuse (the proxy sends generations, the platform reads session summaries): all three, or none. */
export const langfuseEnv = {
  BEACON_LANGFUSE_URL: env.url(),
  BEACON_LANGFUSE_PUBLIC_KEY: z.string().min(1).optional(),
  BEACON_LANGFUSE_SECRET_KEY: z.string().min(1).optional(),
};

type LangfuseConfig = {
  BEACON_LANGFUSE_URL?: string | undefined;
  BEACON_LANGFUSE_PUBLIC_KEY?: string | undefined;
  BEACON_LANGFUSE_SECRET_KEY?: string | undefined;
};

/** For a schema with langfuseEnv: `.refine(...langfuseTogether)`. */
export const langfuseTogether: [(c: LangfuseConfig) => boolean, { message: string; path: string[] }] = [
  (c: LangfuseConfig) =>
    [c.BEACON_LANGFUSE_URL, c.BEACON_LANGFUSE_PUBLIC_KEY, c.BEACON_LANGFUSE_SECRET_KEY].filter(Boolean)
      .length %
      3 ===
    0,
  {
    message:
      'Langfuse needs BEACON_LANGFUSE_URL, BEACON_LANGFUSE_PUBLIC_KEY and BEACON_LANGFUSE_SECRET_KEY together',
    path: ['BEACON_LANGFUSE_URL'],
  },
];

export interface Langfuse {
  url: string;
  publicKey: string;
  secretKey: string;
}

export const langfuseOf = (c: LangfuseConfig): Langfuse | undefined =>
  c.BEACON_LANGFUSE_URL && c.BEACON_LANGFUSE_PUBLIC_KEY && c.BEACON_LANGFUSE_SECRET_KEY
    ? {
        url: c.BEACON_LANGFUSE_URL,
        publicKey: c.BEACON_LANGFUSE_PUBLIC_KEY,
        secretKey: c.BEACON_LANGFUSE_SECRET_KEY,
      }
    : undefined;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);
export const isLoopback = (host: string) => LOOPBACK.has(host);

/** Safe by default: binding beyond loopback requires an admin token. Returns the problem, if any. */
export function checkBind(host: string, adminToken: string | undefined): string | undefined {
  if (LOOPBACK.has(host) || adminToken) return undefined;
  return `BEACON_HOST=${host} exposes the service beyond this machine, so BEACON_ADMIN_TOKEN must be set to protect its admin routes`;
}

/** For main.ts: print every configuration problem and exit instead of a stack trace. */
export function configOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(2);
  }
}
