import { AppError } from '@beacon/core';

/** An alert as the gateway lists it (GET /api/alerts): the part the console shows. */
export interface GatewayAlert {
  alertname: string;
  status: 'firing' | 'resolved';
  severity?: string;
  summary?: string;
  labels: Record<string, string>;
  fingerprint?: string;
  startsAt?: string;
  receivedAt: string;
}

/** One dispatch of the gateway's interaction log (GET /api/interactions). */
export interface Dispatch {
  timestamp: string;
  traceId: string;
  source: string;
  handle: string;
  tokens: { input: number; output: number };
  costUsd: number;
  model: string | null;
  durationMs: number;
  status: string;
}

/**
 * The gateway as the console reads it: the alerts it received (its user API, BEACON_GATEWAY_API_TOKEN when it
 * has one) and a container's dispatches (admin token). Read by the platform so the page needs one origin only.
 */
export function createGatewayClient(baseUrl: string, adminToken?: string, apiToken?: string) {
  const base = baseUrl.replace(/\/$/, '');
  async function get<T>(path: string, token: string | undefined): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
        signal: AbortSignal.timeout(3000),
      });
    } catch (err) {
      throw new AppError('unavailable', 'the gateway is unreachable', {}, err);
    }
    if (!res.ok)
      throw new AppError('unavailable', `the gateway answered ${res.status} for ${path.split('?')[0]}`);
    return (await res.json()) as T;
  }
  return {
    alerts: async () => (await get<{ alerts: GatewayAlert[] }>('/api/alerts', apiToken)).alerts,
    dispatches: async (handle: string, limit = 50) =>
      (
        await get<{ interactions: Dispatch[] }>(
          `/api/interactions?handle=${encodeURIComponent(handle)}&limit=${limit}`,
          adminToken,
        )
      ).interactions,
  };
}

export type GatewayClient = ReturnType<typeof createGatewayClient>;
