import { z } from 'zod';
import { healthSettingSchema } from '../domain/spec';

export const poolConfigSchema = z
  .object({
    // Short enough that `<pool>-<12 hex>` is a valid handle.
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/, 'must match ^[a-z0-9][a-z0-9-]{0,30}$'),
    min: z.number().int().min(0),
    max: z.number().int().min(1),
    image: z.string().min(1).optional(),
    memoryMb: z.number().int().min(16).optional(),
    cpus: z.number().positive().optional(),
    health: healthSettingSchema.optional(),
    /** Idle containers above `min` are removed once idle this long (default 300). */
    idleSeconds: z.number().int().min(0).optional(),
  })
  .refine((p) => p.min <= p.max, { message: 'min must not exceed max', path: ['min'] });

export type PoolConfig = z.infer<typeof poolConfigSchema>;

/** BEACON_POOLS: a JSON array of pools, e.g. [{"name":"default","min":2,"max":10}]. */
export const poolsEnvSchema = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON: [{"name","min","max",…}]' });
      return z.NEVER;
    }
  })
  .pipe(z.array(poolConfigSchema))
  .refine((pools) => new Set(pools.map((p) => p.name)).size === pools.length, 'pool names must be unique')
  .default([]);

export interface PoolMember {
  handle: string;
  /** pending (being created or wiped) | available | borrowed */
  status: string;
  tenant: string | null;
  lastTenant: string | null;
  updatedAt: Date;
}

export type PoolDecision =
  /** The tenant already holds it. */
  | { kind: 'held'; handle: string }
  /** Hand out an idle one: the tenant's previous container (hit) or another (miss; evicting a warm one). */
  | { kind: 'take'; handle: string; affinity: 'hit' | 'miss'; evicts: boolean }
  /** Nothing idle, room left: create one for the tenant. */
  | { kind: 'grow' }
  /** Wait for these to be ready, then decide again (the tenant's own, or warm ones on their way). */
  | { kind: 'wait'; handles: string[] }
  | { kind: 'exhausted' };

/** Which container a tenant gets from a pool with these members and this maximum. */
export function decide(members: PoolMember[], tenant: string, max: number): PoolDecision {
  const own = members.find((m) => m.tenant === tenant && m.status !== 'available');
  if (own)
    return own.status === 'borrowed'
      ? { kind: 'held', handle: own.handle }
      : { kind: 'wait', handles: [own.handle] };
  const idle = members.filter((m) => m.status === 'available');
  const warm = idle.find((m) => m.lastTenant === tenant);
  if (warm) return { kind: 'take', handle: warm.handle, affinity: 'hit', evicts: false };
  // A container nobody used yet, else the one released longest ago (its tenant is least likely back).
  const other = idle.sort(
    (a, b) =>
      Number(a.lastTenant !== null) - Number(b.lastTenant !== null) ||
      a.updatedAt.getTime() - b.updatedAt.getTime(),
  )[0];
  if (other)
    return { kind: 'take', handle: other.handle, affinity: 'miss', evicts: other.lastTenant !== null };
  // A warm one on its way is reused before another is created.
  const coming = members.filter((m) => m.status === 'pending' && !m.tenant).map((m) => m.handle);
  if (coming.length) return { kind: 'wait', handles: coming };
  return members.length < max ? { kind: 'grow' } : { kind: 'exhausted' };
}

export const DEFAULT_IDLE_SECONDS = 300;

/** Idle members past `min` that have been idle longer than `idleMs`, the longest idle first. */
export function surplus(members: PoolMember[], min: number, idleMs: number, now: number): string[] {
  const idle = members
    .filter((m) => m.status === 'available')
    .sort((a, b) => a.updatedAt.getTime() - b.updatedAt.getTime());
  return idle
    .slice(0, Math.max(0, idle.length - min))
    .filter((m) => now - m.updatedAt.getTime() >= idleMs)
    .map((m) => m.handle);
}
