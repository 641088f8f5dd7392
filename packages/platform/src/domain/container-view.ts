import type { ContainerRow, LastExit } from '../db/schema/containers';
import type { ContainerSpec } from './spec';

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
  const { env, ...spec } = row.spec as ContainerSpec;
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
