import { z } from 'zod';

/**
 * What one service reads from another over HTTP: the producer answers in these shapes, the consumer parses
 * them (never casts), so a changed answer fails the consumer's tests instead of its users.
 */

/** The platform's GET /api/containers/:handle, as the gateway reads it: where a handle's kernel is. */
export const containerAnswer = z.looseObject({
  handle: z.string(),
  owner: z.string(),
  state: z.string(),
  /** `address`: where the kernel answers (a published host:port, else ip:7681); absent from older platforms. */
  docker: z
    .object({ ip: z.string().nullable(), address: z.string().nullable().optional() })
    .loose()
    .nullable()
    .optional(),
  /** What the kernel's HTTP port asks of its caller (the detail only, admin token). */
  kernelToken: z.string().nullable().optional(),
});

/** The proxy's POST /api/keys (a minted key, shown once) and GET /api/keys. */
export const mintedKeyAnswer = z.looseObject({ id: z.string(), key: z.string() });
export const keysAnswer = z.object({
  keys: z.array(
    z.looseObject({ id: z.string(), handle: z.string().nullable(), revokedAt: z.string().nullable() }),
  ),
});

/** The proxy's GET /api/usage?groupBy=handle,user,day: USD per handle, user and UTC day. */
export const costRow = z.object({
  handle: z.string().nullable(),
  user: z.string(),
  day: z.string(),
  costUsd: z.number(),
});
export type CostRow = z.infer<typeof costRow>;
export const costsAnswer = z.object({ rows: z.array(costRow) });

/** An alert as the gateway keeps it (GET /api/alerts): the part the console shows, the rest passed on. */
export const gatewayAlert = z.looseObject({
  alertname: z.string(),
  status: z.enum(['firing', 'resolved']),
  severity: z.string().optional(),
  summary: z.string().optional(),
  labels: z.record(z.string(), z.string()),
  fingerprint: z.string().optional(),
  startsAt: z.string().optional(),
  receivedAt: z.string(),
});
export type GatewayAlert = z.infer<typeof gatewayAlert>;
export const alertsAnswer = z.object({ alerts: z.array(gatewayAlert) });

/** One dispatch of the gateway's interaction log (GET /api/interactions). */
export const dispatchLine = z.looseObject({
  timestamp: z.string(),
  traceId: z.string(),
  source: z.string(),
  handle: z.string(),
  tokens: z.object({ input: z.number(), output: z.number() }),
  costUsd: z.number(),
  model: z.string().nullable(),
  durationMs: z.number(),
  status: z.string(),
});
export type DispatchLine = z.infer<typeof dispatchLine>;
export const interactionsAnswer = z.object({ interactions: z.array(dispatchLine) });

/** The proxy's GET /v1/usage?traceId= (a key's own user's calls of one trace, summed): what a kernel reports. */
export const traceUsageAnswer = z.object({
  traceId: z.string(),
  calls: z.number(),
  inFlight: z.number(),
  costUsd: z.number(),
  inputTokens: z.number(),
  cacheReadTokens: z.number(),
  cacheWriteTokens: z.number(),
  outputTokens: z.number(),
  models: z.array(z.object({ model: z.string(), calls: z.number(), costUsd: z.number() })),
});
