import type { Api } from './apis';
import { outputLimit } from './output-limit';
import type { TokenUsage } from './prices';

export const startOfDay = (d: Date) =>
  new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
export const startOfMonth = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
const nextDay = (d: Date) => new Date(startOfDay(d).getTime() + 86_400_000);
const nextMonth = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));

/** A call as the proxy forwards it: the body it sends on, and what the budget needs to know. */
export interface ParsedCall {
  model: string;
  stream: boolean;
  /** Output tokens the caller allows (undefined: it said nothing) and its choices per call. */
  output: { tokens: number | undefined; choices: number };
  /** A Responses call that continues another response or a conversation: its owner is checked. */
  continues: string[];
  upstreamBody: string;
}

const idOf = (v: unknown) =>
  typeof v === 'string' ? v : typeof v === 'object' && v && 'id' in v ? String(v.id) : undefined;

/** The caller's JSON body → the call, or the 400 message naming what is wrong. */
export function parseCall(api: Api, body: unknown): ParsedCall | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body: must be a JSON object';
  const call = body as Record<string, unknown>;
  if (typeof call.model !== 'string' || !call.model) return 'body.model: required string';
  const output = outputLimit(api, call);
  if (typeof output === 'string') return output;
  const stream = api !== 'embeddings' && call.stream === true;
  // OpenAI's chat completions report a stream's usage only when asked to (the Responses API always does).
  if (api === 'chat' && stream)
    call.stream_options = { ...(call.stream_options as object | undefined), include_usage: true };
  const continues: string[] = [];
  if (api === 'responses') {
    // Run in the background, a response would be billed by nobody: the caller polls the upstream, not us.
    if (call.background === true)
      return 'body.background: not supported through the proxy (its cost could not be charged); run the call in the foreground, streaming if it is long';
    for (const field of ['previous_response_id', 'conversation'] as const) {
      const id = idOf(call[field]);
      if (call[field] !== undefined && call[field] !== null && !id) return `body.${field}: must be an id`;
      if (id) continues.push(id);
    }
  }
  return { model: call.model, stream, output, continues, upstreamBody: JSON.stringify(call) };
}

/**
 * The most a call can cost: every byte of the request a token (prompts are ~4 bytes per token) at the dearer
 * of the input and cache-write rates, plus its output limit.
 */
export const worstCaseUsd = (costOf: (usage: TokenUsage) => number, bytes: number, maxOutput: number) =>
  Math.max(
    costOf({ input: bytes, output: maxOutput, cacheRead: 0, cacheWrite: 0 }),
    costOf({ input: 0, output: maxOutput, cacheRead: 0, cacheWrite: bytes }),
  );

export interface Limits {
  dailyUsd?: number | null;
  monthlyUsd?: number | null;
  requestsPerMinute?: number | null;
  /** Output tokens reserved for a call that sends no max_tokens. */
  defaultMaxTokens?: number | null;
}

export interface Refusal {
  reason: 'daily' | 'monthly' | 'requests_per_minute';
  retryAfterSeconds: number;
  message: string;
  /** A budget's refusal: what the window holds, and when it starts again. */
  budget?: { limitUsd: number; spentUsd: number; reservedUsd: number; resetsAt: string };
}

/** USD rounded to the micro-dollar, as every answer gives it (sums of floats carry noise past that). */
export const microUsd = (usd: number) => Math.round(usd * 1e6) / 1e6;

/** The spend a budget is checked against; `lastMinuteCalls` is the sliding-window estimate of calls. */
export interface SpendNow {
  day: number;
  month: number;
  reserved: number;
  lastMinuteCalls: number;
}

/** The sliding one-minute window: calls of this minute plus last minute's, weighted by how much still overlaps. */
export const slidingCalls = (current: number, previous: number, minuteStart: number, t: number) =>
  current + previous * Math.max(0, (60_000 - (t - minuteStart)) / 60_000);

export const startOfMinute = (t: number) => t - (t % 60_000);

/**
 * Whether a call fits: spent today and this month plus what calls in flight reserved plus this call's worst
 * case, within the limits, and the calls of the last minute under the rate.
 */
export function refusalOf(
  user: string,
  spend: SpendNow,
  limits: Limits | undefined,
  worstCase: number,
  now: Date,
): Refusal | undefined {
  const t = now.getTime();
  if (limits?.requestsPerMinute && spend.lastMinuteCalls + 1 > limits.requestsPerMinute) {
    return {
      reason: 'requests_per_minute',
      retryAfterSeconds: Math.max(1, Math.ceil((startOfMinute(t) + 60_000 - t) / 1000)),
      message: `${user} is over ${limits.requestsPerMinute} requests per minute`,
    };
  }
  const committed = spend.reserved + worstCase;
  const refuse = (
    reason: 'daily' | 'monthly',
    limitUsd: number,
    spentUsd: number,
    resets: Date,
  ): Refusal => ({
    reason,
    retryAfterSeconds: Math.ceil((resets.getTime() - t) / 1000),
    message: `${user} has spent $${spentUsd.toFixed(6)} of a $${limitUsd} ${reason} budget`,
    budget: {
      limitUsd,
      spentUsd: microUsd(spentUsd),
      reservedUsd: microUsd(spend.reserved),
      resetsAt: resets.toISOString(),
    },
  });
  if (limits?.dailyUsd != null && spend.day + committed > limits.dailyUsd)
    return refuse('daily', limits.dailyUsd, spend.day, nextDay(now));
  if (limits?.monthlyUsd != null && spend.month + committed > limits.monthlyUsd)
    return refuse('monthly', limits.monthlyUsd, spend.month, nextMonth(now));
  return undefined;
}
