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

/** The fields a caller sets an API's output limit with, for messages ("max_completion_tokens or max_tokens"). */
export const outputField = (api: Api) => FIELDS[api].join(' or ') || 'max_tokens';

/**
 * The most output tokens the caller allows (its max tokens field, times OpenAI's `n` choices), for the budget
 * reservation; `undefined` when it says nothing (a default applies: outputToReserve). A string names the field
 * that is out of range. Money is reserved from this, so a negative or absurd value never reaches the upstream.
 */
export function outputLimit(
  api: Api,
  body: Record<string, unknown>,
): { tokens: number | undefined; choices: number } | string {
  if (!APIS[api].output) return { tokens: 0, choices: 1 };
  const limits: number[] = [];
  for (const field of FIELDS[api]) {
    const v = integerIn(body, field, MAX_OUTPUT_TOKENS);
    if (typeof v === 'string') return v;
    if (v !== undefined) limits.push(v);
  }
  const n = api === 'chat' ? integerIn(body, 'n', MAX_CHOICES) : undefined;
  if (typeof n === 'string') return n;
  const choices = n ?? 1;
  return { tokens: limits[0] === undefined ? undefined : limits[0] * choices, choices };
}

/** Where a call's reserved output came from (the 429 says it). */
export type OutputSource = 'request' | 'quota' | 'default' | 'model';

/**
 * The output tokens a call's reservation counts: the caller's limit; else the user's quota's defaultMaxTokens;
 * else BEACON_DEFAULT_MAX_TOKENS; else 4,096 for chat and messages, and for a Responses call the model's own
 * limit (reasoning models write far past 4,096 tokens).
 */
export function outputToReserve(
  api: Api,
  asked: { tokens: number | undefined; choices: number },
  defaults: { quota?: number | null | undefined; global?: number | undefined; model?: number | undefined },
): { tokens: number; source: OutputSource } {
  if (asked.tokens !== undefined) return { tokens: asked.tokens, source: 'request' };
  if (defaults.quota) return { tokens: defaults.quota * asked.choices, source: 'quota' };
  if (defaults.global) return { tokens: defaults.global * asked.choices, source: 'default' };
  if (api === 'responses') return { tokens: defaults.model ?? DEFAULT_MAX_OUTPUT, source: 'model' };
  return { tokens: DEFAULT_MAX_OUTPUT * asked.choices, source: 'default' };
}
