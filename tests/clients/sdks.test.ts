/**
 * The real agent SDKs of npm (tests/clients/package.json, pinned) pointed at the proxy, with a stand-in
 * provider behind it (tests/support/fake-upstream.ts, the providers' documented wire formats): each call is
 * answered, and each one's tokens and cost are in /api/usage to the cent.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createOpenAI } from '@ai-sdk/openai';
import { Agent, run, setDefaultOpenAIClient, setTracingDisabled } from '@openai/agents';
import { embed, generateText, streamText } from 'ai';
import OpenAI from 'openai';
import type { TestProxy } from '../support/proxy';
import { MINI_COST, servedProxy } from './served-proxy';

// text-embedding-3-small: $0.02 per million input tokens.
const EMBED_COST = (120 * 0.02) / 1e6;

let served: Awaited<ReturnType<typeof servedProxy>>;
let proxy: TestProxy;
let baseURL = '';

beforeAll(async () => {
  served = await servedProxy(4);
  ({ proxy, baseURL } = served);
  setTracingDisabled(true);
});
afterAll(() => served?.stop());

/** The SDK's error for a call that must fail (its APIPromise is thenable but already settled as a Promise). */
const refusal = (call: PromiseLike<unknown>) =>
  Promise.resolve(call).then(
    () => ({ status: 0, message: 'the call succeeded' }),
    (err: { status?: number; message?: string }) => ({ status: err.status, message: err.message }),
  );

/** The usage rows of one user, after the writer has flushed. */
const rowsOf = async (user: string) => (await proxy.rows()).filter((r) => r.user === user);

describe('the OpenAI SDK (openai) through the proxy', () => {
  test('responses.create, JSON and streamed: answered, billed with cached and reasoning tokens', async () => {
    const client = new OpenAI({ baseURL, apiKey: await proxy.keyFor('ana', 'ana-box') });
    const answer = await client.responses.create({ model: 'gpt-4o-mini', input: 'hello' });
    expect(answer.output_text).toBe('tok0 tok1 tok2 tok3 ');
    const stream = await client.responses.create({ model: 'gpt-4o-mini', input: 'hello', stream: true });
    let text = '';
    let completed = false;
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = true;
    }
    expect(text).toBe('tok0 tok1 tok2 tok3 ');
    expect(completed).toBe(true);
    const rows = await rowsOf('ana');
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row).toMatchObject({
        handle: 'ana-box',
        model: 'gpt-4o-mini',
        status: 'ok',
        inputTokens: 120,
        cacheReadTokens: 30,
        outputTokens: 40,
        reasoningTokens: 16,
      });
      expect(row.costUsd).toBeCloseTo(MINI_COST, 12);
    }
    expect(rows.map((r) => r.stream)).toEqual([false, true]);
    const metrics = await proxy.metrics();
    expect(metrics).toContain(
      'proxy_api_tokens_total{user="ana",model="gpt-4o-mini",direction="reasoning"} 32',
    );
  });

  test("previous_response_id continues the user's own response; another user's is not there", async () => {
    const ben = new OpenAI({ baseURL, apiKey: await proxy.keyFor('ben') });
    const first = await ben.responses.create({ model: 'gpt-4o-mini', input: 'remember 7' });
    const second = await ben.responses.create({
      model: 'gpt-4o-mini',
      input: 'what number?',
      previous_response_id: first.id,
    });
    expect(second.previous_response_id).toBe(first.id);
    expect((await ben.responses.retrieve(first.id)).id).toBe(first.id);
    const items = await ben.responses.inputItems.list(first.id);
    expect(items.data.length).toBeGreaterThan(0);

    const cleo = new OpenAI({ baseURL, apiKey: await proxy.keyFor('cleo') });
    const notThere = { status: 404 };
    expect(await refusal(cleo.responses.retrieve(first.id))).toMatchObject(notThere);
    expect(await refusal(cleo.responses.inputItems.list(first.id))).toMatchObject(notThere);
    expect(await refusal(cleo.responses.delete(first.id))).toMatchObject(notThere);
    expect(
      await refusal(
        cleo.responses.create({ model: 'gpt-4o-mini', input: 'x', previous_response_id: first.id }),
      ),
    ).toMatchObject(notThere);
    // The same answer as for an id that exists nowhere.
    expect(await refusal(cleo.responses.retrieve('resp_nowhere'))).toMatchObject(notThere);
    expect(await rowsOf('cleo')).toHaveLength(0);

    await ben.responses.delete(first.id);
    expect(await refusal(ben.responses.retrieve(first.id))).toMatchObject(notThere);
    expect(await rowsOf('ben')).toHaveLength(2);
  });

  test('embeddings.create: answered (base64 as the SDK asks), billed by input tokens', async () => {
    const client = new OpenAI({ baseURL, apiKey: await proxy.keyFor('dora') });
    const result = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
    expect(result.data).toHaveLength(2);
    expect(result.data[0]?.embedding).toHaveLength(8);
    const [row] = await rowsOf('dora');
    expect(row).toMatchObject({
      model: 'text-embedding-3-small',
      inputTokens: 120,
      outputTokens: 0,
      status: 'ok',
    });
    expect(row?.costUsd).toBeCloseTo(EMBED_COST, 12);
  });

  test('a background response, or an absurd max_output_tokens, is a 400 before anything is reserved', async () => {
    const client = new OpenAI({ baseURL, apiKey: await proxy.keyFor('eli') });
    expect(
      await refusal(client.responses.create({ model: 'gpt-4o-mini', input: 'x', background: true })),
    ).toMatchObject({ status: 400, message: expect.stringContaining('body.background') });
    for (const max_output_tokens of [-1, 0, 10_000_000])
      expect(
        await refusal(client.responses.create({ model: 'gpt-4o-mini', input: 'x', max_output_tokens })),
      ).toMatchObject({ status: 400, message: expect.stringContaining('body.max_output_tokens') });
    expect(await rowsOf('eli')).toHaveLength(0);
  });
});

describe("the Vercel AI SDK's defaults (ai + @ai-sdk/openai) through the proxy", () => {
  test('generateText, streamText and embed with openai(): answered and billed', async () => {
    const openai = createOpenAI({ baseURL, apiKey: await proxy.keyFor('finn') });
    const generated = await generateText({ model: openai('gpt-4o-mini'), prompt: 'hello' });
    expect(generated.text).toBe('tok0 tok1 tok2 tok3 ');
    const streamed = streamText({ model: openai('gpt-4o-mini'), prompt: 'hello' });
    let text = '';
    for await (const part of streamed.textStream) text += part;
    expect(text).toBe('tok0 tok1 tok2 tok3 ');
    const embedded = await embed({ model: openai.embedding('text-embedding-3-small'), value: 'hello' });
    expect(embedded.embedding).toHaveLength(8);
    const rows = await rowsOf('finn');
    expect(rows.map((r) => [r.model, r.status, r.stream])).toEqual([
      ['gpt-4o-mini', 'ok', false],
      ['gpt-4o-mini', 'ok', true],
      ['text-embedding-3-small', 'ok', false],
    ]);
    expect(rows[0]?.costUsd).toBeCloseTo(MINI_COST, 12);
    expect(rows[1]?.costUsd).toBeCloseTo(MINI_COST, 12);
    expect(rows[2]?.costUsd).toBeCloseTo(EMBED_COST, 12);
    // Every call went to the Responses API or embeddings: the SDK's defaults.
    expect(
      proxy.fake.calls.filter((c) => c.headers['x-beacon-trace-id'] && c.path === '/v1/chat/completions'),
    ).toHaveLength(0);
  });
});

describe('the OpenAI Agents SDK (@openai/agents) through the proxy', () => {
  test('run(agent, …): answered and billed to the key', async () => {
    setDefaultOpenAIClient(new OpenAI({ baseURL, apiKey: await proxy.keyFor('gus', 'gus-box') }));
    const agent = new Agent({ name: 'helper', instructions: 'Be brief.', model: 'gpt-4o-mini' });
    const result = await run(agent, 'hello');
    expect(result.finalOutput).toBe('tok0 tok1 tok2 tok3 ');
    const [row] = await rowsOf('gus');
    expect(row).toMatchObject({ handle: 'gus-box', model: 'gpt-4o-mini', status: 'ok', reasoningTokens: 16 });
    expect(row?.costUsd).toBeCloseTo(MINI_COST, 12);
  });
});

describe('/api/usage agrees with the rows', () => {
  test('per user, to the cent', async () => {
    const res = await proxy.app.request('/api/usage?groupBy=user');
    const { rows } = (await res.json()) as {
      rows: { user: string; costUsd: number; reasoningTokens: number }[];
    };
    const ana = rows.find((r) => r.user === 'ana');
    // To the cent, and given to the micro-dollar.
    expect(ana?.costUsd).toBeCloseTo(2 * MINI_COST, 2);
    expect(Math.abs((ana?.costUsd ?? 0) - 2 * MINI_COST)).toBeLessThanOrEqual(5.000001e-7);
    expect(ana?.reasoningTokens).toBe(32);
  });
});
