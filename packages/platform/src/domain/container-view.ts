import { z } from 'zod';
import type { ContainerRow, LastExit } from '../db/schema/containers';
import type { ContainerSpec } from './spec';

/** A container as the API answers it (its spec is the stored one, without env values). */
export const containerViewSchema = z.object({
  handle: z.string(),
  owner: z.string(),
  image: z.string(),
  state: z.string(),
  desired: z.string(),
  restarts: z.number(),
  lastExit: z
    .object({ code: z.number(), oomKilled: z.boolean(), at: z.string(), reason: z.string() })
    .nullable(),
  containerId: z.string().nullable(),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
  spec: z.looseObject({ image: z.string(), envKeys: z.array(z.string()) }),
});

export interface ContainerView {
  handle: string;
  owner: string;
  image: string;
  state: string;
  /** running, or stopped through the API (then nothing restarts or recycles it). */
  desired: string;
  restarts: number;
  lastExit: LastExit | null;
  containerId: string | null;
  createdAt: string;
  expiresAt: string | null;
  /** The spec without env values: they may be credentials. */
  spec: Omit<ContainerSpec, 'env'> & { envKeys: string[] };
}

export function toView(row: ContainerRow): ContainerView {
  const { env, kernelToken: _token, ...spec } = row.spec as ContainerSpec;
  return {
    handle: row.handle,
    owner: row.owner,
    image: row.image,
    state: row.state,
    desired: row.desired,
    restarts: row.restarts,
    lastExit: row.lastExit ?? null,
    containerId: row.containerId,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt ? row.expiresAt.toISOString() : null,
    spec: { ...spec, envKeys: Object.keys(env ?? {}) },
  };
}
