import { readFileSync } from 'node:fs';
import shipped from './data/prices.json';
import { type PriceTable, priceFileSchema } from './domain/prices';

/** The shipped price table, with entries from an override file replacing those of the same model. */
export function loadPrices(overrideFile?: string): PriceTable {
  const base = priceFileSchema.parse(shipped).models;
  if (!overrideFile) return base;
  const override = priceFileSchema.safeParse(JSON.parse(readFileSync(overrideFile, 'utf8')));
  if (!override.success) throw new Error(`${overrideFile}: ${override.error.message}`);
  return { ...base, ...override.data.models };
}
