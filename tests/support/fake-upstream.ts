/**
 * TEST DOUBLE — a fake AI provider for tests, benchmarks and local development. It speaks the wire
 * formats of OpenAI's /v1/chat/completions, /v1/responses (with stored responses: GET, input_items, DELETE,
 * cancel, previous_response_id) and /v1/embeddings, and Anthropic's /v1/messages and
 * /v1/messages/count_tokens (JSON and SSE streaming, with usage), with configurable latency, chunking and
 * failures, and (toolCommand) a call of the agent CLIs' shell tool. It generates no real text.
 * The proxy has no special case for it: point BEACON_UPSTREAM_*_URL at it.
 *
 *   bun tests/support/fake-upstream.ts [port] [latencyMs] [chunkDelayMs]   # 127.0.0.1:8999, 0 ms, 20 ms
 */

export interface FakeUsage {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  /** The part of output a reasoning model spent thinking (the Responses API reports it). */
  reasoning?: number;
}

export interface FakeUpstreamOptions {
  port?: number;
  /** 0.0.0.0 when containers must reach it (the compose test); loopback by default. */
  hostname?: string;
  latencyMs?: number;
  chunks?: number;
  chunkDelayMs?: number;
  usage?: FakeUsage;
  /** Answer every call with this status (e.g. 500) instead of a completion. */
  failWith?: number;
  /** Never answer (to test timeouts). */
  hang?: boolean;
  /** How a Responses call ends: completed (default), incomplete (max_output_tokens) or failed. */
  responseEnd?: 'completed' | 'incomplete' | 'failed';
  /**
   * When a request offers a shell tool (Codex's `exec_command` or `shell`, Claude Code's `Bash`) and carries no
   * tool result since the user's last message, answer with a call of that tool running this command, as a
   * model would; the next request (with the tool's output) gets the text answer.
   */
  toolCommand?: string;
}

export interface ReceivedCall {
  path: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

const sse = (data: unknown, event?: string) =>
  `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

const SHELL_TOOLS = ['exec_command', 'shell', 'Bash'];
type Item = { type?: string; role?: string; content?: unknown };

/** The shell tool a request offers, when the model should call it now (no tool result since the user spoke). */
function shellToolToCall(body: Record<string, unknown>, resultType: string): string | undefined {
  const tools = (body.tools as { name?: string }[] | undefined) ?? [];
  const tool = tools.find((t) => SHELL_TOOLS.includes(t.name ?? ''))?.name;
  if (!tool) return undefined;
  const items = ((Array.isArray(body.input) ? body.input : body.messages) as Item[] | undefined) ?? [];
  const userSaid = (i: Item) =>
    i.role === 'user' &&
    (typeof i.content === 'string' || (i.content as Item[]).some((c) => c.type !== resultType));
  const since = items.slice(items.findLastIndex(userSaid));
  const answered = (i: Item) =>
    i.type === resultType ||
    (Array.isArray(i.content) && (i.content as Item[]).some((c) => c.type === resultType));
  return since.some(answered) ? undefined : tool;
}

export function startFakeUpstream(options: FakeUpstreamOptions = {}) {
  const opts = {
    latencyMs: 0,
    chunks: 5,
    chunkDelayMs: 0,
    usage: { input: 120, output: 40, cacheRead: 30, cacheWrite: 10 },
    ...options,
  };
  const calls: ReceivedCall[] = [];
  let streamsFinished = 0;

  const streamOf = (parts: string[]) => {
    const enc = new TextEncoder();
    let i = 0;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (i >= parts.length) {
          streamsFinished++;
          controller.close();
          return;
        }
        if (opts.chunkDelayMs && i > 0) await Bun.sleep(opts.chunkDelayMs);
        controller.enqueue(enc.encode(parts[i++] as string));
      },
    });
  };

  function openai(body: Record<string, unknown>) {
    const u = opts.usage;
    const model = String(body.model);
    // OpenAI: prompt_tokens includes the cached ones.
    const usage = {
      prompt_tokens: u.input + u.cacheRead,
      completion_tokens: u.output,
      total_tokens: u.input + u.cacheRead + u.output,
      prompt_tokens_details: { cached_tokens: u.cacheRead },
    };
    const base = { id: 'chatcmpl-fake', created: 1, model, system_fingerprint: 'fake' };
    if (body.stream !== true) {
      return Response.json({
        ...base,
        object: 'chat.completion',
        choices: [
          { index: 0, message: { role: 'assistant', content: 'fake answer' }, finish_reason: 'stop' },
        ],
        usage,
      });
    }
    const parts = Array.from({ length: opts.chunks }, (_, i) =>
      sse({
        ...base,
        object: 'chat.completion.chunk',
        choices: [{ index: 0, delta: { content: `tok${i} ` } }],
      }),
    );
    const wantsUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage;
    if (wantsUsage) parts.push(sse({ ...base, object: 'chat.completion.chunk', choices: [], usage }));
    parts.push(sse('[DONE]'));
    return new Response(streamOf(parts), { headers: { 'content-type': 'text/event-stream' } });
  }

  /** Responses this provider keeps, as the Responses API does with `store` (the default). */
  const stored = new Map<string, { response: Record<string, unknown>; input: unknown }>();
  let responseCount = 0;
  let toolUses = 0;

  function responseUsage() {
    const u = opts.usage;
    // The Responses API: input_tokens include the cached ones, output_tokens the reasoning ones.
    return {
      input_tokens: u.input + u.cacheRead,
      input_tokens_details: { cached_tokens: u.cacheRead },
      output_tokens: u.output,
      output_tokens_details: { reasoning_tokens: u.reasoning ?? 0 },
      total_tokens: u.input + u.cacheRead + u.output,
    };
  }

  const openaiError = (status: number, message: string, param: string | null, code: string) =>
    Response.json({ error: { message, type: 'invalid_request_error', param, code } }, { status });

  function responses(body: Record<string, unknown>) {
    const previous = body.previous_response_id;
    if (typeof previous === 'string' && !stored.has(previous))
      return openaiError(
        400,
        `Previous response with id '${previous}' not found.`,
        'previous_response_id',
        'previous_response_not_found',
      );
    const id = `resp_fake${++responseCount}`;
    const text = Array.from({ length: opts.chunks }, (_, i) => `tok${i} `);
    const message = {
      id: `msg_fake${responseCount}`,
      type: 'message',
      status: 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text: text.join(''), annotations: [], logprobs: [] }],
    };
    const tool = opts.toolCommand ? shellToolToCall(body, 'function_call_output') : undefined;
    const call = tool && {
      id: `fc_fake${responseCount}`,
      type: 'function_call',
      status: 'completed',
      call_id: `call_fake${responseCount}`,
      name: tool,
      arguments: JSON.stringify(
        tool === 'shell' ? { command: ['sh', '-c', opts.toolCommand] } : { cmd: opts.toolCommand },
      ),
    };
    const end = opts.responseEnd ?? 'completed';
    const response = (status: string, output: unknown[], usage: unknown) => ({
      id,
      object: 'response',
      created_at: Math.floor(Date.now() / 1000),
      status,
      error: status === 'failed' ? { code: 'server_error', message: 'fake failure' } : null,
      incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
      instructions: body.instructions ?? null,
      max_output_tokens: body.max_output_tokens ?? null,
      model: String(body.model),
      output,
      parallel_tool_calls: true,
      previous_response_id: previous ?? null,
      reasoning: { effort: null, summary: null },
      store: body.store !== false,
      temperature: 1,
      text: { format: { type: 'text' } },
      tool_choice: 'auto',
      tools: body.tools ?? [],
      top_p: 1,
      truncation: 'disabled',
      usage,
      metadata: {},
    });
    const final = response(end, [call || message], responseUsage());
    if (body.store !== false) stored.set(id, { response: final, input: body.input });
    if (body.stream !== true) return Response.json(final);
    let seq = 0;
    const event = (type: string, data: Record<string, unknown>) =>
      sse({ type, sequence_number: seq++, ...data }, type);
    const item = { output_index: 0, item_id: message.id, content_index: 0 };
    const opening = [
      event('response.created', { response: response('in_progress', [], null) }),
      event('response.in_progress', { response: response('in_progress', [], null) }),
    ];
    if (call) {
      const ref = { output_index: 0, item_id: call.id };
      const parts = [
        ...opening,
        event('response.output_item.added', { output_index: 0, item: { ...call, arguments: '' } }),
        event('response.function_call_arguments.delta', { ...ref, delta: call.arguments }),
        event('response.function_call_arguments.done', { ...ref, arguments: call.arguments }),
        event('response.output_item.done', { output_index: 0, item: call }),
        event(`response.${end}`, { response: final }),
      ];
      return new Response(streamOf(parts), { headers: { 'content-type': 'text/event-stream' } });
    }
    const parts = [
      ...opening,
      event('response.output_item.added', {
        output_index: 0,
        item: { ...message, status: 'in_progress', content: [] },
      }),
      event('response.content_part.added', {
        ...item,
        part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
      }),
      ...text.map((delta) => event('response.output_text.delta', { ...item, delta, logprobs: [] })),
      event('response.output_text.done', { ...item, text: text.join(''), logprobs: [] }),
      event('response.content_part.done', { ...item, part: message.content[0] }),
      event('response.output_item.done', { output_index: 0, item: message }),
      event(`response.${end}`, { response: final }),
    ];
    return new Response(streamOf(parts), { headers: { 'content-type': 'text/event-stream' } });
  }

  /** GET|DELETE /v1/responses/{id}, GET …/input_items, POST …/cancel. */
  function storedResponse(method: string, path: string) {
    const [, , , id, more] = path.split('/');
    const found = stored.get(id ?? '');
    if (!found) return openaiError(404, `Response with id '${id}' not found.`, null, 'not_found');
    if (method === 'DELETE') {
      stored.delete(id ?? '');
      return Response.json({ id, object: 'response', deleted: true });
    }
    if (more === 'input_items') {
      const input = typeof found.input === 'string' ? [{ role: 'user', content: found.input }] : found.input;
      const data = (Array.isArray(input) ? input : []).map((m, i) => ({
        id: `msg_in${i}`,
        type: 'message',
        ...(m as object),
      }));
      return Response.json({
        object: 'list',
        data,
        first_id: data[0]?.id ?? null,
        last_id: data.at(-1)?.id ?? null,
        has_more: false,
      });
    }
    if (more === 'cancel') return Response.json({ ...found.response, status: 'cancelled' });
    return Response.json(found.response);
  }

  function embeddings(body: Record<string, unknown>) {
    const inputs = Array.isArray(body.input) ? body.input : [body.input];
    const vector = (i: number) => Array.from({ length: 8 }, (_, d) => Math.sin(i + d) / 2);
    const base64 = body.encoding_format === 'base64';
    return Response.json({
      object: 'list',
      data: inputs.map((_, i) => ({
        object: 'embedding',
        index: i,
        embedding: base64 ? Buffer.from(new Float32Array(vector(i)).buffer).toString('base64') : vector(i),
      })),
      model: String(body.model),
      usage: { prompt_tokens: opts.usage.input, total_tokens: opts.usage.input },
    });
  }

  function anthropic(body: Record<string, unknown>) {
    const u = opts.usage;
    const model = String(body.model);
    const usage = {
      input_tokens: u.input,
      output_tokens: u.output,
      cache_creation_input_tokens: u.cacheWrite,
      cache_read_input_tokens: u.cacheRead,
    };
    const message = { id: 'msg_fake', type: 'message', role: 'assistant', model, stop_reason: null };
    const tool = opts.toolCommand ? shellToolToCall(body, 'tool_result') : undefined;
    const use = tool && {
      type: 'tool_use',
      id: `toolu_fake${++toolUses}`,
      name: tool,
      input: { command: opts.toolCommand, description: 'a harmless command' },
    };
    const stop = use ? 'tool_use' : 'end_turn';
    if (body.stream !== true) {
      return Response.json({
        ...message,
        content: [use || { type: 'text', text: 'fake answer' }],
        stop_reason: stop,
        usage,
      });
    }
    const block = use
      ? [
          sse(
            { type: 'content_block_start', index: 0, content_block: { ...use, input: {} } },
            'content_block_start',
          ),
          sse(
            {
              type: 'content_block_delta',
              index: 0,
              delta: { type: 'input_json_delta', partial_json: JSON.stringify(use.input) },
            },
            'content_block_delta',
          ),
        ]
      : [
          sse(
            { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
            'content_block_start',
          ),
          ...Array.from({ length: opts.chunks }, (_, i) =>
            sse(
              { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: `tok${i} ` } },
              'content_block_delta',
            ),
          ),
        ];
    const parts = [
      sse(
        {
          type: 'message_start',
          message: { ...message, content: [], usage: { ...usage, output_tokens: 1 } },
        },
        'message_start',
      ),
      ...block,
      sse({ type: 'content_block_stop', index: 0 }, 'content_block_stop'),
      // Cumulative, as Anthropic sends it: a proxy that adds this to message_start's figure double-counts.
      sse(
        { type: 'message_delta', delta: { stop_reason: stop }, usage: { output_tokens: u.output } },
        'message_delta',
      ),
      sse({ type: 'message_stop' }, 'message_stop'),
    ];
    return new Response(streamOf(parts), { headers: { 'content-type': 'text/event-stream' } });
  }

  const server = Bun.serve({
    hostname: opts.hostname ?? '127.0.0.1',
    port: opts.port ?? 0,
    idleTimeout: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      const body = (await req.json().catch(() => ({}))) as Record<string, unknown>;
      calls.push({ path, headers: Object.fromEntries(req.headers), body });
      if (opts.hang) await new Promise(() => {});
      if (opts.latencyMs) await Bun.sleep(opts.latencyMs);
      if (opts.failWith)
        return Response.json({ error: { message: 'fake failure' } }, { status: opts.failWith });
      if (path === '/v1/chat/completions') return openai(body);
      if (path === '/v1/responses') return responses(body);
      if (path.startsWith('/v1/responses/')) return storedResponse(req.method, path);
      if (path === '/v1/embeddings') return embeddings(body);
      if (path === '/v1/messages/count_tokens') return Response.json({ input_tokens: opts.usage.input });
      if (path === '/v1/messages') return anthropic(body);
      return new Response('not found', { status: 404 });
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}`,
    port: server.port,
    calls,
    options: opts,
    get streamsFinished() {
      return streamsFinished;
    },
    stop: () => server.stop(true),
  };
}

export type FakeUpstream = ReturnType<typeof startFakeUpstream>;

if (import.meta.main) {
  const fake = startFakeUpstream({
    port: Number(process.argv[2] ?? 8999),
    latencyMs: Number(process.argv[3] ?? 0),
    chunkDelayMs: Number(process.argv[4] ?? 20),
  });
  console.log(`fake AI upstream (test double) on ${fake.url}`);
}
