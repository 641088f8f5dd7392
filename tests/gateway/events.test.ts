import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createLogger, createMemoryBus } from '@beacon/core';
import { connect, headers, type NatsConnection } from 'nats';
import { createPlatformEvents } from '../../packages/platform/src/lifecycle/events';
import { hasTool } from '../support/deps';
import { getJson, type TestGateway, useGateways } from '../support/gateway';
import { startNats } from '../support/nats';
import { sseClient } from '../support/sse';
import { eventually } from '../support/wait';

const available = hasTool('nats-server');

/** A stand-in kernel: publishes what a kernel would, on its own NATS connection. */
async function kernel(url: string) {
  const nc: NatsConnection = await connect({ servers: url });
  return {
    publish(subject: string, data: unknown, traceId = 'trace-k') {
      const h = headers();
      h.set('Beacon-Trace-Id', traceId);
      nc.publish(subject, JSON.stringify(data), { headers: h });
      return nc.flush();
    },
    close: () => nc.close(),
  };
}

const result = (taskId: string) => ({
  taskId,
  traceId: `trace-${taskId}`,
  text: 'done',
  model: 'gpt-4o',
  usage: { inputTokens: 10, outputTokens: 5, costUsd: 0.0001 },
  toolsUsed: ['search'],
  durationMs: 1200,
});

/** NATS is optional for readiness (SSE and alerts work without it), so wait for its health check. */
const natsUp = async (g: TestGateway) => (await getJson(g, '/health')).checks.nats.status === 'ok';
const healthIs = (g: TestGateway, status: string) => async () =>
  (await getJson(g, '/health')).status === status;

const metric = async (g: TestGateway, line: string) => (await g.registry.metrics()).includes(line);

const start = useGateways();

describe.skipIf(!available)('gateway events over real NATS', () => {
  let nats: Awaited<ReturnType<typeof startNats>>;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(() => nats?.dispose());

  test('a progress message from a kernel reaches every SSE client and the task store', async () => {
    const g = start({ natsUrl: nats.url, durable: 'g-progress' });
    await eventually(() => natsUp(g));
    const clients = await Promise.all([1, 2, 3].map(() => sseClient(`${g.url}/api/events`)));
    const k = await kernel(nats.url);
    await k.publish('beacon.alice.progress', { taskId: 't-1', traceId: 'tr-1', delta: 'Hello ' });
    await k.publish('beacon.alice.progress', {
      taskId: 't-1',
      traceId: 'tr-1',
      delta: 'world',
      message: 'thinking',
    });
    for (const c of clients) {
      const e = await c.waitFor((e) => e.event === 'task.progress' && e.data.includes('world'));
      expect(JSON.parse(e.data)).toMatchObject({ taskId: 't-1', handle: 'alice', delta: 'world' });
      c.close();
    }
    const task = await (await g.app.request('/api/tasks/t-1')).json();
    expect(task).toMatchObject({
      id: 't-1',
      handle: 'alice',
      status: 'running',
      output: 'Hello world',
      lastMessage: 'thinking',
    });
    expect((await (await g.app.request('/api/tasks?handle=alice')).json()).tasks).toHaveLength(1);
    expect(
      (await g.registry.metrics()).match(/gateway_bus_messages_total\{kind="progress"\} (\d+)/)?.[1],
    ).not.toBe('0');
    await k.close();
  });

  test('invalid payloads are counted and dropped, nothing broadcast', async () => {
    const g = start({ natsUrl: nats.url, durable: 'g-invalid' });
    await eventually(() => natsUp(g));
    const client = await sseClient(`${g.url}/api/events`);
    const k = await kernel(nats.url);
    await k.publish('beacon.bob.errors', { taskId: 't-2', error: 'not an object' });
    await k.publish('beacon.bob.errors', {
      taskId: 't-2',
      traceId: 'x',
      error: { code: 'E', message: 'boom' },
    });
    await client.waitFor((e) => e.event === 'task.failed');
    expect(client.events.filter((e) => e.event === 'task.failed')).toHaveLength(1);
    expect(await metric(g, 'gateway_bus_messages_invalid_total{kind="errors"} 1')).toBe(true);
    expect((await (await g.app.request('/api/tasks/t-2')).json()).status).toBe('failed');
    client.close();
    await k.close();
  });

  test("a result on another handle's subject for a task is dropped and counted: the task is not changed", async () => {
    const g = start({ natsUrl: nats.url, durable: 'g-foreign' });
    await eventually(() => natsUp(g));
    const k = await kernel(nats.url);
    // Bob's task, made known to the gateway by its own kernel's progress.
    await k.publish('beacon.bob.progress', { taskId: 't-bob', traceId: 'tb', delta: 'working' });
    await eventually(async () => (await g.app.request('/api/tasks/t-bob')).status === 200);
    // Mallory's container publishes on its own subject a forged answer for Bob's task.
    await k.publish('beacon.mallory.results', result('t-bob'));
    await eventually(() => metric(g, 'gateway_bus_messages_foreign_total{kind="results"} 1'));
    expect((await (await g.app.request('/api/tasks/t-bob')).json()).status).toBe('running');
    await k.close();
  });

  test('a result published while the gateway is stopped is delivered after it restarts', async () => {
    const first = start({ natsUrl: nats.url, durable: 'g-restart' });
    await eventually(() => natsUp(first));
    await Bun.sleep(300); // the durable consumer exists once the bridge has started
    await first.stop();
    const k = await kernel(nats.url);
    await k.publish('beacon.carol.results', result('t-while-down'));
    await k.close();
    const g = start({ natsUrl: nats.url, durable: 'g-restart' });
    const task = await eventually(async () => {
      const res = await g.app.request('/api/tasks/t-while-down');
      return res?.status === 200 ? res.json() : undefined;
    });
    expect(task).toMatchObject({
      status: 'completed',
      handle: 'carol',
      result: { text: 'done', model: 'gpt-4o' },
    });
  });

  test('NATS going away: /health down and /ready 503 (dispatch needs it); when it returns, messages flow without a restart', async () => {
    const g = start({ natsUrl: nats.url, durable: 'g-outage' });
    await eventually(() => natsUp(g));
    await nats.stop();
    const down = await eventually(async () => {
      const body = await getJson(g, '/health');
      return body.status === 'down' ? body : undefined;
    });
    expect(down.checks.nats.status).toBe('error');
    expect((await g.app.request('/ready')).status).toBe(503);
    await nats.restart();
    await eventually(healthIs(g, 'healthy'), 15_000);
    const client = await sseClient(`${g.url}/api/events`);
    const k = await kernel(nats.url);
    await k.publish('beacon.dan.progress', { taskId: 't-3', traceId: 'tr', delta: 'back' });
    await client.waitFor((e) => e.event === 'task.progress' && e.data.includes('back'));
    await k.publish('beacon.dan.results', result('t-3'));
    await eventually(async () => (await getJson(g, '/api/tasks/t-3')).status === 'completed', 10_000);
    client.close();
    await k.close();
  });
});

describe('SSE fan-out', () => {
  test('Last-Event-ID replays the events a client missed', async () => {
    const g = start();
    const ids = ['a', 'b', 'c'].map((x) => g.events.sse.broadcast('task.progress', { x }));
    const client = await sseClient(`${g.url}/api/events`, { 'last-event-id': String(ids[0]) });
    await client.waitFor((e) => e.data.includes('"c"'));
    expect(client.events.map((e) => JSON.parse(e.data).x)).toEqual(['b', 'c']);
    expect(client.events.map((e) => e.id)).toEqual([String(ids[1]), String(ids[2])]);
    client.close();
  });

  test('a client that never reads does not delay a fast one; its drops are counted', async () => {
    const g = start({ sseQueueSize: 16 });
    const port = new URL(g.url).port;
    // bash opens the connection, sends the request and never reads a byte of the answer.
    const stalled = Bun.spawn([
      'bash',
      '-c',
      `exec 3<>/dev/tcp/127.0.0.1/${port}; printf 'GET /api/events HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' >&3; sleep 60`,
    ]);
    await eventually(() => g.events.sse.clientCount === 1);
    const fast = await sseClient(`${g.url}/api/events`);
    await eventually(() => g.events.sse.clientCount === 2);
    const payload = 'x'.repeat(16 * 1024);
    const total = 1500; // ~24 MiB: far past what the kernel buffers for the stalled socket
    // Published in bursts of 10 as fast as the reading client takes them: it keeps up, the stalled one cannot.
    for (let i = 0; i < total; i++) {
      g.events.sse.broadcast('task.progress', { i, payload });
      if (i % 10 === 9) await fast.waitFor((e) => e.data.includes(`"i":${i},`), 2000);
    }
    expect(fast.events.filter((e) => e.event === 'task.progress')).toHaveLength(total);
    const dropped = Number((await g.registry.metrics()).match(/gateway_sse_events_dropped_total (\d+)/)?.[1]);
    expect(dropped).toBeGreaterThan(0);
    expect(dropped).toBeLessThan(total);
    fast.close();
    stalled.kill();
  });

  test('without NATS the platform SSE stream is relayed, and the relay reconnects when it drops', async () => {
    const log = createLogger({ service: 'platform', level: 'silent' });
    const serve = (port = 0) => {
      const events = createPlatformEvents(createMemoryBus(), log);
      const server = Bun.serve({
        hostname: '127.0.0.1',
        port,
        idleTimeout: 0,
        fetch: (req) => events.sse.connect(req.headers.get('last-event-id'), req.signal),
      });
      return { events, server };
    };
    const platform = serve();
    const g = start({ platformUrl: `http://127.0.0.1:${platform.server.port}` });
    const client = await sseClient(`${g.url}/api/events`);
    await eventually(healthIs(g, 'healthy'));
    platform.events.emit('container.created', 'erin', 'abc123', { owner: 'erin' });
    const e = await client.waitFor((e) => e.event === 'container.created');
    expect(JSON.parse(e.data)).toMatchObject({
      type: 'container.created',
      handle: 'erin',
      containerId: 'abc123',
    });
    expect(await metric(g, 'gateway_bus_messages_total{kind="container"} 1')).toBe(true);

    const port = platform.server.port;
    platform.events.close();
    platform.server.stop(true);
    await eventually(healthIs(g, 'degraded'));
    const again = serve(port);
    await eventually(healthIs(g, 'healthy'), 10_000);
    again.events.emit('container.stopped', 'erin', 'abc123');
    await client.waitFor((e) => e.event === 'container.stopped', 5000);
    again.events.close();
    again.server.stop(true);
    client.close();
  });
});
