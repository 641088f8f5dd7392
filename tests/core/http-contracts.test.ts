import { afterEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  alertsAnswer,
  costsAnswer,
  createLogger,
  interactionsAnswer,
  keysAnswer,
  mintedKeyAnswer,
} from '@beacon/core';
import { Registry } from 'prom-client';
import { createApp } from '../../packages/gateway/src/app';
import { createInteractionLogger } from '../../packages/gateway/src/interaction-logger';
import { createMetrics } from '../../packages/gateway/src/metrics';
import { startGateway, type TestGateway } from '../support/gateway';
import { buildProxy, openaiCall, type TestProxy } from '../support/proxy';

/** The producers' real answers, parsed by the contracts their consumers read them with (http-contracts.ts). */
describe('internal HTTP contracts', () => {
  let proxy: TestProxy | undefined;
  let gateway: TestGateway | undefined;
  afterEach(async () => {
    await proxy?.stop();
    await gateway?.stop();
  });

  test("the proxy's keys and usage, as the platform reads them", async () => {
    proxy = await buildProxy();
    const minted = await proxy.post('/api/keys', { user: 'ann', handle: 'ann-box' });
    expect(mintedKeyAnswer.parse(await minted.json()).key).toStartWith('bk_');
    const listed = keysAnswer.parse(await (await proxy.app.request('/api/keys?handle=ann-box')).json());
    expect(listed.keys).toHaveLength(1);
    const key = await proxy.keyFor('ann', 'ann-box');
    await proxy.post('/v1/chat/completions', openaiCall(), { authorization: `Bearer ${key}` });
    const from = new Date(Date.now() - 60_000).toISOString();
    const usage = await proxy.app.request(`/api/usage?groupBy=handle,user,day&from=${from}`);
    const { rows } = costsAnswer.parse(await usage.json());
    expect(rows).toContainEqual(expect.objectContaining({ handle: 'ann-box', user: 'ann' }));
  });

  test('a declared route is audited on its own method only: listing keys is not a mint', async () => {
    proxy = await buildProxy();
    await proxy.post('/api/keys', { user: 'bo' });
    await proxy.app.request('/api/keys');
    const { entries } = await (await proxy.app.request('/api/audit')).json();
    expect(entries.map((e: { action: string }) => e.action)).toEqual(['key.mint']);
  });

  test("the gateway's alerts and interactions, as the console reads them", async () => {
    gateway = startGateway();
    await gateway.app.request('/api/alert', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ alerts: [{ status: 'firing', labels: { alertname: 'ContainerDown' } }] }),
    });
    const { alerts } = alertsAnswer.parse(await (await gateway.app.request('/api/alerts')).json());
    expect(alerts[0]).toMatchObject({ alertname: 'ContainerDown', status: 'firing' });

    const home = mkdtempSync(join(tmpdir(), 'beacon-contract-'));
    try {
      const registry = new Registry();
      const log = createLogger({ service: 't', level: 'silent' });
      const metrics = createMetrics(registry);
      const interactions = createInteractionLogger(home, metrics, log);
      await interactions.write({
        timestamp: new Date().toISOString(),
        traceId: 'trace-1',
        source: 'api',
        handle: 'ann-box',
        sessionId: null,
        prompt: 'hi',
        toolsUsed: [],
        tokens: { input: 3, output: 5 },
        costUsd: 0.001,
        model: 'gpt-4o',
        durationMs: 12,
        status: 'ok',
      });
      const app = createApp({
        identity: { name: 'gateway', version: 't' },
        registry,
        metrics,
        log,
        interactions,
      });
      const answer = interactionsAnswer.parse(
        await (await app.request('/api/interactions?handle=ann-box')).json(),
      );
      expect(answer.interactions).toHaveLength(1);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
