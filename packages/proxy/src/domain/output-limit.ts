import { APIS, type Api } from './apis';

/** Output tokens assumed for the reservation when the caller sets no max_tokens. */
export const DEFAULT_MAX_OUTPUT = 4096;
/** No provider generates more in one call; a larger value is a mistake or an attack on the budget. */
export const MAX_OUTPUT_TOKENS = 1_000_000;
/** OpenAI's `n` (choices per call) multiplies the output; its documented maximum is 128. */
const MAX_CHOICES = 128;

/** Where each API takes its output limit. */
const FIELDS: Record<Api, readonly string[]> = {
  chat: ['max_completion_tokens', 'max_tokens'],
  messages: ['max_tokens'],
  responses: ['max_output_tokens'],
  embeddings: [],
};

function integerIn(body: Record<string, unknown>, field: string, max: number): number | string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max)
    return `body.${field}: must be an integer from 1 to ${max}`;
  return value;
}

/**
 * The most output tokens a call may produce, for its budget reservation; a string names the field that
 * is out of range. Money is reserved from this, so a negative or absurd value never reaches the upstream.
 * A Responses call without `max_output_tokens` is `undefined`: the model's own limit applies (reasoning
 * models write far past 4,096 tokens).
 */
export function outputLimit(api: Api, body: Record<string, unknown>): number | string | undefined {
  if (!APIS[api].output) return 0;
  const limits: number[] = [];
  for (const field of FIELDS[api]) {
    const v = integerIn(body, field, MAX_OUTPUT_TOKENS);
    if (typeof v === 'string') return v;
    if (v !== undefined) limits.push(v);
  }
  if (api === 'responses') return limits[0];
  const n = integerIn(body, 'n', MAX_CHOICES);
  if (typeof n === 'string') return n;
  return (limits[0] ?? DEFAULT_MAX_OUTPUT) * (n ?? 1);
}
