import type { FakeUpstreamOptions } from '../support/fake-upstream';
import { buildProxy } from '../support/proxy';

/** The stand-in's usage: 120 fresh input, 30 cached, 40 output of which 16 reasoning. */
export const AGENT_USAGE = { input: 120, output: 40, cacheRead: 30, cacheWrite: 0, reasoning: 16 };
/** gpt-4o-mini at the catalogue's rates (@pydantic/genai-prices): $0.15 in, $0.075 cached, $0.6 out per million. */
export const MINI_COST = (120 * 0.15 + 30 * 0.075 + 40 * 0.6) / 1e6;

/** A proxy on loopback over a stand-in provider (tests/support/fake-upstream.ts), as agents reach it. */
export async function servedProxy(chunks: number, more: FakeUpstreamOptions = {}) {
  const proxy = await buildProxy({ usage: AGENT_USAGE, chunks, ...more });
  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: proxy.app.fetch });
  return {
    proxy,
    baseURL: `http://127.0.0.1:${server.port}/v1`,
    root: `http://127.0.0.1:${server.port}`,
    async stop() {
      server.stop(true);
      await proxy.stop();
    },
  };
}
