/**
 * TEST DOUBLE — a fake AI provider for tests, benchmarks and local development. It speaks the wire
 * formats of OpenAI's /v1/chat/completions and Anthropic's /v1/messages (JSON and SSE streaming,
 * with usage), with configurable latency, chunking and failures. It generates no real text.
 * The proxy has no special case for it: point BEACON_UPSTREAM_*_URL at it.
 *
 *   bun tests/support/fake-upstream.ts [port] [latencyMs] [chunkDelayMs]   # 127.0.0.1:8999, 0 ms, 20 ms
 */

export interface FakeUsage {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
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
}

export interface ReceivedCall {
  path: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

const sse = (data: unknown, event?: string) =>
  `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

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
    if (body.stream !== true) {
      return Response.json({
        ...message,
        content: [{ type: 'text', text: 'fake answer' }],
        stop_reason: 'end_turn',
        usage,
      });
    }
    const parts = [
      sse(
        {
          type: 'message_start',
          message: { ...message, content: [], usage: { ...usage, output_tokens: 1 } },
        },
        'message_start',
      ),
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
      sse({ type: 'content_block_stop', index: 0 }, 'content_block_stop'),
      // Cumulative, as Anthropic sends it: a proxy that adds this to message_start's figure double-counts.
      sse(
        { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: u.output } },
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
