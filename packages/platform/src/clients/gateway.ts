import { alertsAnswer, createJsonClient, interactionsAnswer } from '@beacon/core';

/**
 * The gateway as the console reads it: the alerts it received (its user API, BEACON_GATEWAY_API_TOKEN when it
 * has one) and a container's dispatches (admin token). Read by the platform so the page needs one origin only.
 */
export function createGatewayClient(baseUrl: string, adminToken?: string, apiToken?: string) {
  const gateway = createJsonClient({ name: 'gateway', baseUrl, timeoutMs: 3000 });
  return {
    alerts: async () => (await gateway.json('/api/alerts', alertsAnswer, { token: apiToken })).alerts,
    dispatches: async (handle: string, limit = 50) =>
      (
        await gateway.json(
          `/api/interactions?handle=${encodeURIComponent(handle)}&limit=${limit}`,
          interactionsAnswer,
          { token: adminToken },
        )
      ).interactions,
  };
}

export type GatewayClient = ReturnType<typeof createGatewayClient>;
