import { z } from 'zod';
import type { StreamConfig } from './bus';

/** A container handle (docs/platform.md); it is also a token of bus subjects. */
export const HANDLE_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Files the platform gives a container, mounted read-only (never env: `docker inspect` would show them). */
export const PLATFORM_FILES_DIR = '/run/beacon';
/** The container's proxy key (a pooled container's current tenant's); the kernel reads it before each call. */
export const PROXY_KEY_FILE = `${PLATFORM_FILES_DIR}/proxy-key`;
/** The token a kernel's HTTP port asks of its caller (the gateway gets it from the platform). */
export const KERNEL_TOKEN_FILE = `${PLATFORM_FILES_DIR}/kernel-token`;
/** The kernel's NATS credentials (a user JWT for its own subjects only), when NATS runs with Beacon's accounts. */
export const NATS_CREDS_FILE = `${PLATFORM_FILES_DIR}/nats.creds`;

/** Bus payloads (docs/dispatch.md). Unknown fields are ignored; the handle is the subject's second token. */
export const busKinds = ['questions', 'progress', 'results', 'errors', 'cancelled'] as const;
export type BusKind = (typeof busKinds)[number];

const taskRef = { taskId: z.string().min(1), traceId: z.string().min(1) };

export const commandSchema = z.object({
  ...taskRef,
  text: z.string(),
  source: z.enum(['web', 'api', 'channel']),
  sessionId: z.string().optional(),
});

export const usageSchema = z.object({
  inputTokens: z.number().int().min(0),
  outputTokens: z.number().int().min(0),
  costUsd: z.number().min(0),
});

export const busSchemas = {
  questions: z.object({ ...taskRef, question: z.string() }),
  progress: z.object({
    ...taskRef,
    delta: z.string().optional(),
    message: z.string().optional(),
    /** An agent's tool call, when it starts and when it ends (kernels that drive Codex or Claude Code). */
    tool: z.object({ name: z.string(), phase: z.enum(['started', 'ended']) }).optional(),
  }),
  results: z.object({
    ...taskRef,
    text: z.string(),
    model: z.string(),
    usage: usageSchema,
    toolsUsed: z.array(z.string()),
    durationMs: z.number().min(0),
  }),
  errors: z.object({ ...taskRef, error: z.object({ code: z.string(), message: z.string() }) }),
  cancelled: z.object({ ...taskRef, reason: z.string().optional() }),
} satisfies Record<BusKind, z.ZodType>;

export type Command = z.infer<typeof commandSchema>;
export type KernelResult = z.infer<typeof busSchemas.results>;
export type KernelProgress = z.infer<typeof busSchemas.progress>;
export type KernelError = z.infer<typeof busSchemas.errors>;

export const containerEventSchema = z.object({
  type: z.string().regex(/^container\.[a-z_]+$/),
  handle: z.string(),
  containerId: z.string(),
  at: z.string(),
  detail: z.record(z.string(), z.unknown()).optional(),
});

export type ContainerEvent = z.infer<typeof containerEventSchema>;

/**
 * JetStream streams. Commands wait for their kernel (one durable consumer per handle, a work queue: each
 * command is taken once) for 15 minutes; results, errors and cancellations wait for the gateways for a day,
 * so neither side loses a message while the other, or NATS, is away.
 */
export const streams = {
  commands: {
    name: 'BEACON_COMMANDS',
    subjects: ['beacon.*.commands'],
    retention: 'workqueue',
    maxAgeSeconds: 900,
  },
  results: {
    name: 'BEACON_RESULTS',
    subjects: ['beacon.*.results', 'beacon.*.errors', 'beacon.*.cancelled'],
    retention: 'limits',
    maxAgeSeconds: 86_400,
  },
} as const satisfies Record<string, StreamConfig>;

export const subjects = {
  commands: (handle: string) => `beacon.${handle}.commands`,
  kernel: (handle: string, kind: BusKind) => `beacon.${handle}.${kind}`,
  platformEvents: 'beacon.platform.events',
};

/** `beacon.<handle>.<kind>` → its parts, or undefined for any other subject. */
export function parseSubject(subject: string): { handle: string; kind: string } | undefined {
  const parts = subject.split('.');
  if (parts.length !== 3 || parts[0] !== 'beacon' || !parts[1] || !parts[2]) return undefined;
  return { handle: parts[1], kind: parts[2] };
}
