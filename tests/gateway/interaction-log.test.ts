import { describe, expect, test } from 'bun:test';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@beacon/core';
import { Registry } from 'prom-client';
import { createApp } from '../../packages/gateway/src/app';
import { createInteractionLogger, type Interaction } from '../../packages/gateway/src/interaction-logger';
import { createMetrics } from '../../packages/gateway/src/metrics';

const entry = (i: number, prompt: string): Interaction => ({
  timestamp: '2026-11-23T10:00:00.000Z',
  traceId: `trace-${i}`,
  source: 'api',
  handle: 'alice',
  sessionId: null,
  prompt,
  toolsUsed: [],
  tokens: { input: i, output: 2 * i },
  costUsd: i / 1000,
  model: 'gpt-4o',
  durationMs: 10,
  status: 'ok',
});

describe('interaction log', () => {
  test('concurrent dispatches never interleave a line; prompts are cut to 500 characters', async () => {
    const home = mkdtempSync(join(tmpdir(), 'beacon-jsonl-'));
    try {
      const logger = createInteractionLogger(
        home,
        createMetrics(new Registry()),
        createLogger({ service: 't', level: 'silent' }),
      );
      await Promise.all(
        Array.from({ length: 300 }, (_, i) => logger.write(entry(i, String(i % 10).repeat(3000)))),
      );
      const lines = readFileSync(join(home, 'system', 'logs', '2026-11-23.jsonl'), 'utf8')
        .trim()
        .split('\n');
      expect(lines).toHaveLength(300);
      const parsed = lines.map((l) => JSON.parse(l));
      expect(new Set(parsed.map((p) => p.traceId)).size).toBe(300);
      for (const p of parsed) {
        expect(p.prompt).toHaveLength(500);
        expect(p.tokens.output).toBe(2 * p.tokens.input);
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  test('a failure to write is counted and reported, never thrown', async () => {
    const registry = new Registry();
    const logger = createInteractionLogger(
      '/dev/null/home',
      createMetrics(registry),
      createLogger({ service: 't', level: 'silent' }),
    );
    expect(await logger.write(entry(1, 'x'))).toBe(false);
    expect(await registry.metrics()).toContain('gateway_interaction_log_errors_total 1');
  });

  test('GET /api/interactions: one day, filtered, newest first, with totals; admin only; bad query 400', async () => {
    const home = mkdtempSync(join(tmpdir(), 'beacon-jsonl-'));
    try {
      const registry = new Registry();
      const metrics = createMetrics(registry);
      const log = createLogger({ service: 't', level: 'silent' });
      const logger = createInteractionLogger(home, metrics, log);
      for (let i = 1; i <= 5; i++)
        await logger.write({
          ...entry(i, `prompt ${i}`),
          handle: i % 2 ? 'alice' : 'bob',
          status: i === 5 ? 'error' : 'ok',
        });
      appendFileSync(join(logger.dir, '2026-11-23.jsonl'), 'not json\n');
      const token = 'admin-token-0123456789';
      const app = createApp({
        identity: { name: 'gateway', version: 't' },
        registry,
        metrics,
        log,
        interactions: logger,
        adminToken: token,
      });
      const get = (q: string) =>
        app.request(`/api/interactions?${q}`, { headers: { authorization: `Bearer ${token}` } });

      const alice = await (await get('date=2026-11-23&handle=alice&limit=2')).json();
      expect(alice.interactions.map((e: Interaction) => e.traceId)).toEqual(['trace-5', 'trace-3']);
      expect(alice.totals).toMatchObject({ dispatches: 3, inputTokens: 9, outputTokens: 18 });
      expect(alice.totals.costUsd).toBeCloseTo(0.009, 12);
      const errors = await (await get('date=2026-11-23&status=error')).json();
      expect(errors.interactions).toEqual([
        expect.objectContaining({ traceId: 'trace-5', prompt: 'prompt 5' }),
      ]);
      expect((await (await get('date=2026-11-22')).json()).interactions).toEqual([]);

      expect((await app.request('/api/interactions')).status).toBe(401);
      const bad = await get('date=yesterday&limit=5000');
      expect(bad.status).toBe(400);
      const message = (await bad.json()).error.message;
      expect(message).toContain('query.date');
      expect(message).toContain('query.limit');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
