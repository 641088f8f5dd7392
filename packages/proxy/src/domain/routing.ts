import { z } from 'zod';
import type { Provider } from './prices';

/** One upstream: a provider's API or any server that speaks it (vLLM, Ollama, OpenRouter, Gemini's OpenAI side). */
const upstreamSchema = z.object({
  kind: z.enum(['openai', 'anthropic']),
  /** Up to and including the version: `https://api.openai.com/v1`, `http://vllm:8000/v1`. */
  baseUrl: z.url(),
  /** Used in turn; `env:NAME` reads the key from the environment variable NAME. */
  keys: z.array(z.string().min(1)).default([]),
});

export const routingFileSchema = z
  .object({
    upstreams: z.record(
      z.string().regex(/^[\w.-]{1,64}$/, 'must be a name of letters, digits, . _ -'),
      upstreamSchema,
    ),
    /** First match wins: a model name, or a pattern with `*` (`gpt-*`, `*`); the upstreams are tried in order. */
    routes: z
      .array(z.object({ model: z.string().min(1).max(200), upstreams: z.array(z.string()).min(1) }))
      .min(1),
  })
  .superRefine((file, ctx) => {
    file.routes.forEach((route, i) => {
      for (const name of route.upstreams)
        if (!file.upstreams[name])
          ctx.addIssue({
            code: 'custom',
            path: ['routes', i, 'upstreams'],
            message: `no upstream named ${name}`,
          });
    });
  });

export type RoutingFile = z.infer<typeof routingFileSchema>;
export type UpstreamEntry = RoutingFile['upstreams'][string];

/** `gpt-*` → /^gpt-.*$/; everything else is literal. */
const patternOf = (model: string) =>
  new RegExp(
    `^${model
      .split('*')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );

/**
 * The routing table: which upstreams (of the API's kind) serve a model, in the order they are tried. The first
 * route whose pattern matches the model and that lists an upstream of that kind wins.
 */
export function createRoutes(file: RoutingFile) {
  const routes = file.routes.map((r) => ({ ...r, pattern: patternOf(r.model) }));
  return {
    upstreams: file.upstreams,
    routes: file.routes,
    candidates(model: string, kind: Provider): string[] {
      for (const route of routes) {
        if (!route.pattern.test(model)) continue;
        const names = route.upstreams.filter((name) => file.upstreams[name]?.kind === kind);
        if (names.length > 0) return names;
      }
      return [];
    },
    /** The models a route names outright (no pattern). */
    named: () => file.routes.filter((r) => !r.model.includes('*')).map((r) => r.model),
  };
}

export type Routes = ReturnType<typeof createRoutes>;

/** The zero-config table: today's BEACON_UPSTREAM_* variables, every model to the one upstream of its kind. */
export function defaultRouting(openai: { url: string; key?: string | undefined }, anthropic: typeof openai) {
  const entry = (kind: Provider, u: typeof openai) => ({
    kind,
    baseUrl: `${u.url.replace(/\/$/, '')}/v1`,
    keys: u.key ? [u.key] : [],
  });
  return {
    upstreams: { openai: entry('openai', openai), anthropic: entry('anthropic', anthropic) },
    routes: [{ model: '*', upstreams: ['openai', 'anthropic'] }],
  } satisfies RoutingFile;
}
