import type { Provider } from './prices';

/**
 * The provider APIs the proxy serves and charges: which kind of upstream answers each, at which path under
 * the upstream's base URL (`https://api.openai.com/v1`), and whether it produces output tokens.
 */
export const APIS = {
  chat: { kind: 'openai', path: '/chat/completions', output: true },
  responses: { kind: 'openai', path: '/responses', output: true },
  embeddings: { kind: 'openai', path: '/embeddings', output: false },
  messages: { kind: 'anthropic', path: '/messages', output: true },
} as const satisfies Record<string, { kind: Provider; path: string; output: boolean }>;

export type Api = keyof typeof APIS;
