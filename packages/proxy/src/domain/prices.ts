import { z } from 'zod';

export type Provider = 'openai' | 'anthropic';

export const priceSchema = z.object({
  provider: z.enum(['openai', 'anthropic']),
  input: z.number().min(0),
  output: z.number().min(0),
  cacheRead: z.number().min(0).default(0),
  cacheWrite: z.number().min(0).default(0),
  /** Output tokens a call may produce when it names no limit (the reservation's worst case). */
  maxOutput: z.number().int().min(1).max(1_000_000).optional(),
});

export const priceFileSchema = z.object({ models: z.record(z.string(), priceSchema) });

export type Price = z.infer<typeof priceSchema>;
export type PriceTable = Record<string, Price>;

/** Tokens of one call, split so that no token is counted twice. */
export interface TokenUsage {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  /** The part of `output` a reasoning model spent thinking: priced as output, counted apart. */
  reasoning?: number;
}

export const NO_USAGE: TokenUsage = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };

/** The table entry for a model: exact, else its longest listed prefix (`gpt-4o-2024-08-06` → `gpt-4o`). */
export function lookupPrice(table: PriceTable, model: string): { name: string; price: Price } | undefined {
  const exact = table[model];
  if (exact) return { name: model, price: exact };
  let best: string | undefined;
  for (const name of Object.keys(table)) {
    if (model.startsWith(`${name}-`) && (!best || name.length > best.length)) best = name;
  }
  return best ? { name: best, price: table[best] as Price } : undefined;
}

export function costUsd(
  price: Pick<Price, 'input' | 'output' | 'cacheRead' | 'cacheWrite'> | undefined,
  u: TokenUsage,
): number {
  if (!price) return 0;
  return (
    (u.input * price.input +
      u.output * price.output +
      u.cacheRead * price.cacheRead +
      u.cacheWrite * price.cacheWrite) /
    1e6
  );
}
