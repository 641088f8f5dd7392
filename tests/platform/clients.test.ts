import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { AppError } from '@beacon/core';
import { createGatewayClient } from '../../packages/platform/src/clients/gateway';
import { createProxyClient } from '../../packages/platform/src/clients/proxy';

/**
 * TEST DOUBLE of a proxy and a gateway that answer badly: an empty 404, an HTML 500, a 200 that is not JSON,
 * and Beacon's own error shape. The platform's clients name each as what it is, never a TypeError.
 */
let answer: () => Response = () => new Response(null, { status: 404 });
let server: ReturnType<typeof Bun.serve>;
beforeAll(() => {
  server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => answer() });
});
afterAll(() => server.stop(true));

const refusal = async (call: () => Promise<unknown>) => {
  try {
    await call();
  } catch (err) {
    return err;
  }
  throw new Error('the call succeeded');
};

describe("the platform's clients and bad answers", () => {
  const url = () => `http://127.0.0.1:${server.port}`;
  const cases: [string, () => Response, string, string][] = [
    [
      'an empty 404',
      () => new Response(null, { status: 404 }),
      'unavailable',
      'the proxy could not GET /api/keys (404)',
    ],
    [
      'an HTML 500',
      () => new Response('<h1>oops</h1>', { status: 500, headers: { 'content-type': 'text/html' } }),
      'unavailable',
      '(500)',
    ],
    ['a 200 that is not JSON', () => new Response('hello'), 'bad_gateway', 'in an unexpected shape'],
    ['an empty 200', () => new Response(null), 'bad_gateway', 'in an unexpected shape'],
    [
      "Beacon's own refusal",
      () =>
        Response.json(
          { error: { code: 'unavailable', message: "the service's disk is full", requestId: 'r' } },
          { status: 503 },
        ),
      'unavailable',
      "the service's disk is full",
    ],
    [
      'a wrong token',
      () => new Response(null, { status: 401 }),
      'unavailable',
      'is BEACON_ADMIN_TOKEN the same on both?',
    ],
  ];
  for (const [name, respond, code, says] of cases)
    test(`the proxy client, ${name}: ${code}, "${says}"`, async () => {
      answer = respond;
      const err = await refusal(() =>
        createProxyClient(url(), 'token-0123456789abcdef').mint('alice', 'alice'),
      );
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ code, message: expect.stringContaining(says) });
    });

  test('the gateway client, an empty 404 and an HTML 500: clear errors the console shows as "no answer"', async () => {
    const gateway = createGatewayClient(url(), 'admin-0123456789', 'api-0123456789');
    for (const respond of [
      () => new Response(null, { status: 404 }),
      () => new Response('<html>', { status: 500 }),
    ]) {
      answer = respond;
      expect(await refusal(() => gateway.alerts())).toBeInstanceOf(AppError);
      expect(await refusal(() => gateway.dispatches('alice'))).toBeInstanceOf(AppError);
    }
  });
});
