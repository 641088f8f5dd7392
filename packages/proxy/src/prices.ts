import { readFileSync } from 'node:fs';
import { calcPrice, findProvider, type ModelPrice } from '@pydantic/genai-prices';
import { DEFAULT_MAX_OUTPUT } from './domain/output-limit';
import {
  costUsd,
  lookupPrice,
  type Price,
  type PriceTable,
  type Provider,
  priceFileSchema,
  type TokenUsage,
} from './domain/prices';

/** USD per million tokens, and where they came from. */
export interface Rates {
  /** The name the model is counted under (the metric's `model` label). */
  name: string;
  source: 'override' | 'catalogue';
  provider: string;
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  /** Output tokens a call may produce when it names no limit (the catalogue's context window). */
  maxOutput: number;
  /** Priced in tiers by prompt length (the catalogue computes those); the rates above are the first tier. */
  tiered: boolean;
}

/** Models remembered, priced or not: callers choose model names, so the memory is bounded. */
const MAX_REMEMBERED = 10_000;
const RATE_KEYS = ['input_mtok', 'output_mtok', 'cache_read_mtok', 'cache_write_mtok'] as const;

const base = (v: ModelPrice[string]) => (typeof v === 'number' ? v : (v?.base ?? 0));

/** The catalogue's entry for a model: under the API's own provider first, then under any provider. */
function catalogued(model: string, kind: Provider) {
  return calcPrice({ input_tokens: 0 }, model, { providerId: kind }) ?? calcPrice({ input_tokens: 0 }, model);
}

/** An override file (BEACON_PRICES_FILE): the same shape as before, entries win over the catalogue. */
export function loadOverrides(file?: string): PriceTable {
  if (!file) return {};
  const parsed = priceFileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.message}`);
  return parsed.data.models;
}

/**
 * Prices from @pydantic/genai-prices (a catalogue kept up to date by its maintainers, pinned by the lockfile)
 * with the override file's entries winning model by model. A model's rates are looked up once and
 * remembered; a call is priced from them, or by the catalogue itself where its prices are tiered.
 */
export function createPriceBook(overrides: PriceTable) {
  const known = new Map<string, Rates | undefined>();

  const fromOverride = (name: string, p: Price): Rates => ({
    name,
    source: 'override',
    provider: p.provider,
    input: p.input,
    output: p.output,
    cacheRead: p.cacheRead,
    cacheWrite: p.cacheWrite,
    maxOutput: p.maxOutput ?? DEFAULT_MAX_OUTPUT,
    tiered: false,
  });

  function find(model: string, kind: Provider): Rates | undefined {
    const own = lookupPrice(overrides, model);
    if (own) return fromOverride(own.name, own.price);
    const found = catalogued(model, kind);
    if (!found) return undefined;
    const p = found.model_price;
    const [input, output, cacheRead, cacheWrite] = RATE_KEYS.map((k) => base(p[k]));
    return {
      name: found.model.id,
      source: 'catalogue',
      provider: found.provider.id,
      input: input ?? 0,
      output: output ?? 0,
      cacheRead: cacheRead ?? 0,
      cacheWrite: cacheWrite ?? 0,
      maxOutput: found.model.context_window ?? DEFAULT_MAX_OUTPUT,
      tiered: RATE_KEYS.some((k) => typeof p[k] === 'object'),
    };
  }

  function rates(model: string, kind: Provider = 'openai'): Rates | undefined {
    const key = `${kind}:${model}`;
    if (known.has(key)) return known.get(key);
    const found = find(model, kind);
    if (known.size < MAX_REMEMBERED) known.set(key, found);
    return found;
  }

  return {
    rates,
    /** What a call cost in USD; 0 for a model without a price (counted and listed by the recorder). */
    costOf(model: string, u: TokenUsage, kind: Provider = 'openai'): number {
      const r = rates(model, kind);
      if (!r) return 0;
      if (!r.tiered) return costUsd(r, u);
      const usage = {
        // The catalogue's input_tokens are all of them, its cache counts parts of that.
        input_tokens: u.input + u.cacheRead + u.cacheWrite,
        cache_read_tokens: u.cacheRead,
        cache_write_tokens: u.cacheWrite,
        output_tokens: u.output,
      };
      return calcPrice(usage, model, { providerId: r.provider })?.total_price ?? costUsd(r, u);
    },
    /** The models priced for an API kind: the override file's, then the catalogue's own provider's. */
    models(kind: Provider): string[] {
      const own = Object.entries(overrides).filter(([, p]) => p.provider === kind);
      const listed = findProvider({ providerId: kind })?.models.filter((m) => !m.deprecated) ?? [];
      return [...new Set([...own.map(([name]) => name), ...listed.map((m) => m.id)])];
    },
  };
}

export type PriceBook = ReturnType<typeof createPriceBook>;
