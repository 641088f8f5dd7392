import { afterAll, describe, expect, test } from 'bun:test';
import { startGateway } from '../support/gateway';

const token = 'api-token-0123456789abcdef';

describe('BEACON_API_TOKEN guards the user API', () => {
  const gw = startGateway({ apiToken: token });
  afterAll(() => gw.stop());
  const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}` } });

  test('no token → 401 with a Basic challenge, a wrong one → 403, the right one (bearer or Basic) passes', async () => {
    const missing = await fetch(`${gw.url}/api/tasks`);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Basic realm="beacon"');
    expect((await missing.json()).error.message).toContain('BEACON_API_TOKEN');
    expect((await fetch(`${gw.url}/api/tasks`, bearer('wrong-token-0123456789'))).status).toBe(403);
    expect((await fetch(`${gw.url}/api/tasks`, bearer(token))).status).toBe(200);
    const basic = { headers: { authorization: `Basic ${Buffer.from(`shell:${token}`).toString('base64')}` } };
    expect((await fetch(`${gw.url}/api/alerts`, basic)).status).toBe(200);
    for (const path of ['/api/message', '/api/artifacts/a.txt', '/api/artifacts'])
      expect((await fetch(`${gw.url}${path}`, { method: 'POST' })).status).toBe(401);
  });

  test('the event stream takes ?token= (EventSource cannot send headers); elsewhere the query does not count', async () => {
    expect((await fetch(`${gw.url}/api/events`)).status).toBe(401);
    const controller = new AbortController();
    const stream = await fetch(`${gw.url}/api/events?token=${token}`, { signal: controller.signal });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toStartWith('text/event-stream');
    controller.abort();
    expect((await fetch(`${gw.url}/api/tasks?token=${token}`)).status).toBe(401);
  });

  test('health, readiness, version and metrics stay open', async () => {
    for (const path of ['/health', '/ready', '/version', '/metrics'])
      expect([401, 403]).not.toContain((await fetch(`${gw.url}${path}`)).status);
  });
});
