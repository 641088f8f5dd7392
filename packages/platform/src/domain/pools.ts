import { z } from 'zod';
import { healthSettingSchema } from './spec';

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
