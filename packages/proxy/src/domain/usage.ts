import type { Api } from './apis';
import type { TokenUsage } from './prices';

type OpenAiUsage = {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
};

type AnthropicUsage = {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
};

/** OpenAI's prompt_tokens already include cached_tokens: split them so the cached part gets the cache rate. */
export function fromOpenAi(u: OpenAiUsage | undefined | null): TokenUsage | undefined {
  if (!u) return undefined;
  const cached = u.prompt_tokens_details?.cached_tokens ?? 0;
  return {
    input: Math.max(0, (u.prompt_tokens ?? 0) - cached),
    output: u.completion_tokens ?? 0,
    cacheRead: cached,
    cacheWrite: 0,
  };
}

type ResponsesUsage = {
  input_tokens?: number;
  output_tokens?: number;
  input_tokens_details?: { cached_tokens?: number } | null;
  output_tokens_details?: { reasoning_tokens?: number } | null;
};

/**
 * The Responses API's input_tokens include the cached ones (priced at the cache-read rate), and its
 * output_tokens the reasoning ones (priced as output, counted apart too).
 */
export function fromResponses(u: ResponsesUsage | undefined | null): TokenUsage | undefined {
  if (!u) return undefined;
  const cached = u.input_tokens_details?.cached_tokens ?? 0;
  return {
    input: Math.max(0, (u.input_tokens ?? 0) - cached),
    output: u.output_tokens ?? 0,
    cacheRead: cached,
    cacheWrite: 0,
    reasoning: u.output_tokens_details?.reasoning_tokens ?? 0,
  };
}

/** A whole JSON answer of an API → its usage, and what Langfuse is shown as the output. */
export function answerUsage(api: Api, answer: Record<string, unknown>) {
  const usage = answer.usage as never;
  switch (api) {
    case 'responses':
      return { usage: fromResponses(usage), output: answer.output };
    case 'messages':
      return { usage: fromAnthropic(usage), output: answer.content };
    case 'embeddings':
      return { usage: fromOpenAi(usage), output: undefined };
    default:
      return { usage: fromOpenAi(usage), output: answer.choices };
  }
}

/** How a Responses stream ended, by its last event: completed, cut short (incomplete) or failed. */
const RESPONSE_ENDS: Record<string, ResponseEnd> = {
  'response.completed': 'ok',
  'response.incomplete': 'incomplete',
  'response.failed': 'failed',
};
export type ResponseEnd = 'ok' | 'incomplete' | 'failed';
/** The Responses events the tracker reads (`unknown`: a line whose type is not at its start is read too). */
const RESPONSE_EVENTS = new Set(['response.created', ...Object.keys(RESPONSE_ENDS), 'unknown']);
const TYPE = /"type"\s*:\s*"([^"]+)"/;

/** Anthropic's input, cache-creation and cache-read tokens do not overlap. */
export function fromAnthropic(
  u: AnthropicUsage | undefined | null,
  into?: TokenUsage,
): TokenUsage | undefined {
  if (!u) return into;
  const base = into ?? { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
  // message_delta usage is cumulative: a field present replaces the earlier value, never adds to it.
  return {
    input: u.input_tokens ?? base.input,
    output: u.output_tokens ?? base.output,
    cacheRead: u.cache_read_input_tokens ?? base.cacheRead,
    cacheWrite: u.cache_creation_input_tokens ?? base.cacheWrite,
  };
}

/**
 * Follows a provider's SSE stream as it passes through and keeps the latest usage it reported.
 * Input arrives in arbitrary chunks: lines are reassembled before parsing.
 */
export class StreamUsageTracker {
  usage: TokenUsage | undefined;
  model: string | undefined;
  /** A Responses stream: the response's id (from response.created) and how it ended. */
  responseId: string | undefined;
  ended: ResponseEnd | undefined;
  #partial = '';
  #decoder = new TextDecoder();

  constructor(readonly api: Api) {}

  push(chunk: Uint8Array): void {
    const text = this.#partial + this.#decoder.decode(chunk, { stream: true });
    const lines = text.split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) this.#line(line);
  }

  #line(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!line.startsWith('data:')) return;
    const data = line.slice(5).trim();
    if (!data || data === '[DONE]') return;
    // A Responses stream is mostly deltas: only the events that carry an id or usage are parsed.
    if (this.api === 'responses' && !RESPONSE_EVENTS.has(data.slice(0, 80).match(TYPE)?.[1] ?? 'unknown'))
      return;
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    if (this.api === 'responses') {
      const response = event.response as { id?: string; usage?: ResponsesUsage } | undefined;
      if (event.type === 'response.created' && response?.id) this.responseId = response.id;
      const end = RESPONSE_ENDS[String(event.type)];
      if (end) {
        this.ended = end;
        this.usage = fromResponses(response?.usage) ?? this.usage;
      }
      return;
    }
    if (this.api !== 'messages') {
      if (typeof event.model === 'string') this.model ??= event.model;
      const u = fromOpenAi(event.usage as OpenAiUsage | undefined);
      if (u) this.usage = u;
      return;
    }
    if (event.type === 'message_start') {
      const message = event.message as { model?: string; usage?: AnthropicUsage } | undefined;
      if (message?.model) this.model ??= message.model;
      this.usage = fromAnthropic(message?.usage, this.usage);
    } else if (event.type === 'message_delta') {
      this.usage = fromAnthropic(event.usage as AnthropicUsage | undefined, this.usage);
    }
  }
}
