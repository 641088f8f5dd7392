import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasDocker, hasTool } from '../support/deps';
import { handlePrefix, removeContainers } from '../support/docker';
import { post } from '../support/http';
import { bridgeAddress, type Stack, stackAuth, startStack } from '../support/stack';
import {
  LANGFUSE_KEYS,
  type OtlpSpan,
  startLangfuse,
  startLoki,
  startOtlpReceiver,
} from '../support/telemetry';
import { eventually } from '../support/wait';

// One dispatch, traced through real processes and a kernel in a real container, reported to doubles of an
// OTLP collector, Langfuse and Loki (tests/support/telemetry.ts says what each speaks).
const available = (await hasDocker()) && hasTool('nats-server');
const prefix = handlePrefix('trc');
const work = mkdtempSync(join(tmpdir(), 'beacon-traces-'));

describe.skipIf(!available)('traces, Langfuse and Loki for one dispatch', () => {
  let stack: Stack;
  let otlp: ReturnType<typeof startOtlpReceiver>;
  let langfuse: ReturnType<typeof startLangfuse>;
  let loki: ReturnType<typeof startLoki>;
  const handle = `${prefix}-ivy`;
  // The caller's own trace: the dispatch joins it.
  const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const callerSpan = '00f067aa0ba902b7';

  beforeAll(async () => {
    // On the bridge address: the kernel in its container exports its spans there too.
    const host = await bridgeAddress();
    otlp = startOtlpReceiver(host);
    langfuse = startLangfuse();
    loki = startLoki();
    stack = await startStack(work, {
      env: {
        BEACON_OTLP_URL: otlp.url,
        BEACON_LOKI_URL: loki.url,
        BEACON_LANGFUSE_URL: langfuse.url,
        BEACON_LANGFUSE_PUBLIC_KEY: LANGFUSE_KEYS.publicKey,
        BEACON_LANGFUSE_SECRET_KEY: LANGFUSE_KEYS.secretKey,
        // The platform's summary cache (default 60 s), short enough to see it expire.
        BEACON_LANGFUSE_SUMMARY_TTL: '3',
      },
    });
    await stack.provision(handle, 'ivy');
  });

  afterAll(async () => {
    await removeContainers(prefix);
    await stack?.stop();
    for (const d of [otlp, langfuse, loki]) d?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  let traceId = '';
  const spanNamed = (name: string) => otlp.spans.find((s) => s.traceId === traceId && s.name === name);

  test('gateway → kernel → proxy → upstream: one trace, each span the child of the one before', async () => {
    const res = await post(
      `${stack.gateway.url}/api/message`,
      { handle, text: 'trace this' },
      { traceparent: `00-${callerTrace}-${callerSpan}-01` },
    );
    const body = await res.json();
    expect(body.status).toBe('ok');
    traceId = body.traceId;
    expect(traceId).toBe(callerTrace);

    const [dispatch, run, call, upstream] = (await eventually(() => {
      const spans = ['dispatch', 'kernel.run', 'proxy.call', 'upstream'].map(spanNamed);
      return spans.every(Boolean) && (spans as OtlpSpan[]);
    }, 15_000)) as OtlpSpan[];
    expect(dispatch).toMatchObject({ service: 'beacon-gateway', parentSpanId: callerSpan });
    expect(run).toMatchObject({ service: 'beacon-kernel', parentSpanId: dispatch?.spanId });
    expect(call).toMatchObject({ service: 'beacon-proxy', parentSpanId: run?.spanId });
    expect(upstream).toMatchObject({ service: 'beacon-proxy', parentSpanId: call?.spanId });
    expect(dispatch?.attributes).toMatchObject({ 'beacon.handle': handle, 'beacon.status': 'ok' });
    expect(call?.attributes).toMatchObject({
      'beacon.handle': handle,
      'beacon.user': 'ivy',
      'gen_ai.request.model': 'gpt-4o-mini',
    });
    expect(Number(upstream?.attributes['gen_ai.usage.input_tokens'])).toBeGreaterThan(0);
    expect(Number(upstream?.attributes['beacon.cost_usd'])).toBeGreaterThan(0);
    expect(dispatch?.attributes['beacon.cost_usd']).toBe(upstream?.attributes['beacon.cost_usd']);
    // The upstream was asked with the upstream span's context.
    const asked = stack.fake.calls.find((c) => c.headers.traceparent?.includes(traceId));
    expect(asked?.headers.traceparent).toBe(`00-${traceId}-${String(upstream?.spanId)}-01`);
  });

  test('Langfuse: the call as a generation (session = handle, user = owner, no prompt), and the summary cached', async () => {
    const generation = await eventually(
      () => langfuse.generations.find((g) => g.traceId === traceId),
      10_000,
    );
    expect(langfuse.refused).toEqual([]);
    expect(generation?.parentSpanId).toBe(String(spanNamed('proxy.call')?.spanId));
    expect(generation?.attributes).toMatchObject({
      'langfuse.observation.type': 'generation',
      'langfuse.observation.model.name': 'gpt-4o-mini',
      'session.id': handle,
      'user.id': 'ivy',
    });
    const usage = JSON.parse(String(generation?.attributes['langfuse.observation.usage_details']));
    expect(usage.input).toBeGreaterThan(0);
    expect(
      JSON.parse(String(generation?.attributes['langfuse.observation.cost_details'])).total,
    ).toBeGreaterThan(0);
    expect(generation?.attributes['langfuse.observation.input']).toBeUndefined();

    const view = async () =>
      (await (await fetch(`${stack.platform.url}/api/containers/${handle}`, { headers: stackAuth })).json())
        .langfuse;
    // The provisioning's reads cached an empty summary; once it expires the dispatch shows.
    await eventually(async () => (await view())?.traces === 1, 10_000);
    expect(await view()).toMatchObject({ traces: 1, observations: 1, generations: 1, errors: 0 });
    // Within its time the summary is the cached one: Langfuse is not asked again.
    const reads = langfuse.observationReads;
    for (let i = 0; i < 5; i++) await view();
    expect(langfuse.observationReads).toBe(reads);
    await post(`${stack.gateway.url}/api/message`, { handle, text: 'again' });
    await eventually(async () => (await view())?.traces === 2, 10_000);
    expect(langfuse.observationReads).toBe(reads + 1);
  });

  test('Loki: every service pushes its lines, bounded labels, the trace as metadata; one search finds the dispatch', async () => {
    const ofTrace = await eventually(() => {
      const found = loki.entries.filter((e) => e.metadata.trace_id === traceId);
      const services = new Set(found.map((e) => e.labels.service));
      return services.has('gateway') && services.has('proxy') && found;
    }, 10_000);
    for (const e of ofTrace || [])
      expect(Object.keys(e.labels).sort()).toEqual(['instance', 'job', 'level', 'service', 'type']);
    const search = await (
      await fetch(`${stack.platform.url}/api/logs?traceId=${traceId}`, { headers: stackAuth })
    ).json();
    expect(search.source).toBe('loki');
    const events = search.lines.map((l: { message: string }) => JSON.parse(l.message).event);
    expect(events).toEqual(
      expect.arrayContaining(['router.task_dispatched', 'router.task_completed', 'proxy.call']),
    );
    const times = search.lines.map((l: { timestamp: string }) => l.timestamp);
    expect(times).toEqual([...times].sort().reverse());
  });
});
