import { HANDLE_PATTERN } from '@beacon/core';
import { z } from 'zod';

/** Reserved: `platform` is a token of the bus subject beacon.platform.events. */
const RESERVED_HANDLES = new Set(['platform']);

export const handleSchema = z
  .string()
  .regex(HANDLE_PATTERN, 'must match ^[a-z0-9][a-z0-9-]{0,62}$')
  .refine((h) => !RESERVED_HANDLES.has(h), 'is reserved');

export const healthSettingSchema = z.union(
  [
    z.enum(['http', 'docker', 'none']),
    z.object({ port: z.number().int().min(1).max(65535), path: z.string().startsWith('/') }),
  ],
  { error: 'must be "http", "docker", "none" or {"port": 1-65535, "path": "/…"}' },
);

/** Docker refuses a create request past its header limits; these keep the answer a clear 413. */
export const ENV_VALUE_MAX_BYTES = 32 * 1024;
export const ENV_TOTAL_MAX_BYTES = 256 * 1024;

/** The first env entry over the limits, as "body.env.NAME: …", or undefined. */
export function envTooLarge(env: Record<string, string> = {}): string | undefined {
  let total = 0;
  for (const [name, value] of Object.entries(env)) {
    const bytes = Buffer.byteLength(name) + Buffer.byteLength(value) + 1;
    if (bytes > ENV_VALUE_MAX_BYTES)
      return `body.env.${name}: ${bytes} bytes; the limit is ${ENV_VALUE_MAX_BYTES} bytes per variable`;
    total += bytes;
  }
  return total > ENV_TOTAL_MAX_BYTES
    ? `body.env: ${total} bytes in all; the limit is ${ENV_TOTAL_MAX_BYTES} bytes`
    : undefined;
}

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Docker's image reference grammar (distribution/reference): `[domain[:port]/]path[:tag][@digest]`, path
 * components lowercase letters and digits joined by `.`, `_`, `__` or dashes. Checked here so a name like
 * `../../etc/passwd` never reaches the engine (its pull once crashed the platform).
 */
const alnum = '[a-z0-9]+';
const pathComponent = `${alnum}(?:(?:[._]|__|-+)${alnum})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domain = `(?:${domainComponent}(?:\\.${domainComponent})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
const digest = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
export const IMAGE_REFERENCE = new RegExp(
  `^(?:${domain}/)?${pathComponent}(?:/${pathComponent})*(?::[\\w][\\w.-]{0,127})?(?:@${digest})?$`,
);

/** A command's size: Docker's create request, and the engine's argv, stay well inside their limits. */
export const COMMAND_MAX_ARGS = 256;
export const COMMAND_ARG_MAX_BYTES = 32 * 1024;

export const createContainerSchema = z.object({
  handle: handleSchema,
  image: z
    .string()
    .min(1)
    .max(255)
    .regex(
      IMAGE_REFERENCE,
      "must be an image reference: [registry[:port]/]name[:tag][@digest], name parts of a-z 0-9 joined by '.', '_' or '-'",
    )
    .optional(),
  command: z
    .array(
      z
        .string()
        .refine(
          (arg) => Buffer.byteLength(arg) <= COMMAND_ARG_MAX_BYTES,
          `at most ${COMMAND_ARG_MAX_BYTES} bytes an argument`,
        ),
    )
    .min(1)
    .max(COMMAND_MAX_ARGS)
    .optional(),
  owner: z.string().min(1).max(128).optional(),
  env: z.record(z.string().regex(envName, 'env names must be shell identifiers'), z.string()).optional(),
  memoryMb: z.number().int().min(16).max(1_048_576).optional(),
  cpus: z.number().positive().max(256).optional(),
  /** Shared secrets (top-level files of BEACON_SECRETS_DIR) this container gets besides its owner's. */
  secrets: z
    .array(z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'secret names are file names: letters, digits, _ . -'))
    .max(64)
    .optional(),
  /** false: no OPENAI_* / ANTHROPIC_* variables pointing the container's agents at the proxy. */
  aiEnv: z.boolean().optional(),
  /** Processes the container may run (default BEACON_DEFAULT_PIDS_LIMIT, at most BEACON_MAX_PIDS_LIMIT). */
  pidsLimit: z.number().int().min(16).max(65_536).optional(),
  /** The image's filesystem read-only; /tmp (tmpfs) and the working directory (a volume) stay writable. */
  readOnlyRootfs: z.boolean().optional(),
  /** Capabilities given back after dropping all: each one the operator allowed (BEACON_ALLOWED_CAPABILITIES). */
  capAdd: z
    .array(z.string().regex(/^[A-Z_]{2,32}$/, 'capability names are like NET_BIND_SERVICE'))
    .max(16)
    .optional(),
  ttlSeconds: z.number().int().min(0).optional(),
  health: healthSettingSchema.optional(),
  /** The Docker host to run on, in a fleet of several (BEACON_HOST_ID); else the least reserved one. */
  host: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a host id')
    .optional(),
});

export type CreateContainerInput = z.infer<typeof createContainerSchema>;

/** What is stored and re-used to provision the same container again (recycling). */
export interface ContainerSpec {
  image: string;
  command?: string[];
  env: Record<string, string>;
  memoryMb: number;
  cpus: number;
  pidsLimit?: number;
  readOnlyRootfs?: boolean;
  /** Capabilities added back (allowed by the operator, weakening: logged at create). */
  capAdd?: string[];
  /** Shared secrets named at create (the owner's own always come). */
  secrets?: string[];
  /** false: the standard AI variables are left out. */
  aiEnv?: boolean;
  /** What the container's kernel asks of its HTTP callers; never in a list or view, only the detail. */
  kernelToken?: string;
  ttlSeconds: number;
  health: z.infer<typeof healthSettingSchema>;
  /** Set for a pool's containers (label beacon.pool). */
  pool?: string;
}

export interface SpecDefaults {
  image: string;
  /** Network every container joins; the engine's default bridge when unset. */
  network?: string;
  /**
   * A host address the containers' checked ports are published on (BEACON_KERNEL_PUBLISH_IP): how a platform
   * and gateway in containers of their own reach kernels on a bridge whose containers cannot reach each other.
   */
  publishOn?: string;
  memoryMb: number;
  cpus: number;
  pidsLimit: number;
  ttlSeconds: number;
  /** The most one container may ask for (BEACON_MAX_MEMORY_MB, BEACON_MAX_CPUS, BEACON_MAX_PIDS_LIMIT). */
  maxMemoryMb: number;
  maxCpus: number;
  maxPidsLimit: number;
  /** Capabilities a create may add back (BEACON_ALLOWED_CAPABILITIES); none by default. */
  allowedCapabilities: string[];
}

/** A request past the operator's maximum, as "body.memoryMb: …", or undefined. */
export function overMaximum(
  spec: Pick<ContainerSpec, 'memoryMb' | 'cpus' | 'pidsLimit' | 'capAdd'>,
  defaults: SpecDefaults,
) {
  if (spec.memoryMb > defaults.maxMemoryMb)
    return `body.memoryMb: ${spec.memoryMb} MiB is over this platform's maximum of ${defaults.maxMemoryMb} MiB (BEACON_MAX_MEMORY_MB)`;
  if (spec.cpus > defaults.maxCpus)
    return `body.cpus: ${spec.cpus} is over this platform's maximum of ${defaults.maxCpus} (BEACON_MAX_CPUS)`;
  if ((spec.pidsLimit ?? 0) > defaults.maxPidsLimit)
    return `body.pidsLimit: ${spec.pidsLimit} is over this platform's maximum of ${defaults.maxPidsLimit} (BEACON_MAX_PIDS_LIMIT)`;
  const refused = spec.capAdd?.find((cap) => !defaults.allowedCapabilities.includes(cap));
  if (refused)
    return `body.capAdd: ${refused} is not a capability this platform allows (BEACON_ALLOWED_CAPABILITIES: ${defaults.allowedCapabilities.join(', ') || 'none'})`;
  return undefined;
}

export function specFrom(input: CreateContainerInput, defaults: SpecDefaults): ContainerSpec {
  return {
    image: input.image ?? defaults.image,
    ...(input.command ? { command: input.command } : {}),
    env: input.env ?? {},
    memoryMb: input.memoryMb ?? defaults.memoryMb,
    cpus: input.cpus ?? defaults.cpus,
    ...(input.pidsLimit ? { pidsLimit: input.pidsLimit } : {}),
    ...(input.readOnlyRootfs ? { readOnlyRootfs: true } : {}),
    ...(input.capAdd?.length ? { capAdd: [...new Set(input.capAdd)] } : {}),
    ...(input.secrets?.length ? { secrets: input.secrets } : {}),
    ...(input.aiEnv === false ? { aiEnv: false } : {}),
    ttlSeconds: input.ttlSeconds ?? defaults.ttlSeconds,
    health: input.health ?? 'http',
  };
}

export const containerName = (handle: string) => `beacon-${handle}`;

/** Docker state → the platform's record state. */
export function recordState(dockerState: string): 'running' | 'stopped' {
  return dockerState === 'running' || dockerState === 'restarting' ? 'running' : 'stopped';
}

/** The `pool` label of a container's metrics: its pool's name, or `none`. */
export const poolOf = (row: { spec: unknown } | undefined) =>
  (row?.spec as ContainerSpec | undefined)?.pool ?? 'none';
