/**
 * A full disk: a 24 MB tmpfs as the data directory, filled. /ready fails naming it, the interaction log keeps
 * its lines and writes them once there is room again, and a refused write is named for what it is.
 */
import { afterAll, afterEach, describe, expect, test } from 'bun:test';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, diskProbe } from '@beacon/core';
import { Registry } from 'prom-client';
import { createInteractionLogger, type Interaction } from '../../packages/gateway/src/interaction-logger';
import { createMetrics } from '../../packages/gateway/src/metrics';
import { startService } from '../support/service';
import { eventually } from '../support/wait';

const dir = mkdtempSync(join(tmpdir(), 'beacon-full-'));
const mounted = Bun.spawnSync(['mount', '-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', dir]).exitCode === 0;
if (!mounted && process.env.CI) throw new Error('a tmpfs could not be mounted (root is needed under CI)');
const filler = join(dir, 'filler');

/** Fill the tmpfs to its last byte. */
function fill() {
  const chunk = Buffer.alloc(64 * 1024);
  const fd = openSync(filler, 'a');
  try {
    for (;;) writeSync(fd, chunk);
  } catch {
    // ENOSPC: full.
  } finally {
    closeSync(fd);
  }
}

const entry = (i: number): Interaction => ({
  timestamp: new Date().toISOString(),
  traceId: `trace-${i}`,
  source: 'api',
  handle: 'alice',
  sessionId: null,
  prompt: 'hello',
  toolsUsed: [],
  tokens: { input: 1, output: 1 },
  costUsd: 0,
  model: null,
  durationMs: 1,
  status: 'ok',
});

describe.skipIf(!mounted)('a full disk', () => {
  afterAll(() => {
    Bun.spawnSync(['umount', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => rmSync(filler, { force: true }));

  test('the disk probe fails naming it; interaction lines the disk refuses wait and are all written, in order, once there is room', async () => {
    const registry = new Registry();
    const logger = createInteractionLogger(
      join(dir, 'home'),
      createMetrics(registry),
      createLogger({ service: 'gateway', level: 'silent' }),
    );
    const probe = diskProbe(dir);
    await probe.check();
    logger.write(entry(0));
    fill();
    await expect(probe.check()).rejects.toThrow('the disk is full');
    // What fits in the file's last page is written; from the first refusal on, every line waits, in order.
    const written = Array.from({ length: 100 }, (_, i) => logger.write(entry(i + 1)));
    const waiting = written.filter((w) => !w).length;
    expect(waiting).toBeGreaterThan(50);
    expect(written.slice(written.indexOf(false))).not.toContain(true);
    expect(() => logger.check()).toThrow(`${waiting} interaction log lines wait for the disk`);
    rmSync(filler, { force: true });
    await eventually(() => {
      try {
        logger.check();
        return true;
      } catch {
        return false;
      }
    }, 5000);
    const file = join(logger.dir, `${new Date().toISOString().slice(0, 10)}.jsonl`);
    const traces = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).traceId);
    expect(traces).toEqual(Array.from({ length: 101 }, (_, i) => `trace-${i}`));
    expect(await registry.getSingleMetricAsString('gateway_interaction_log_dropped_total')).toContain(' 0');
    await probe.check();
  });

  test('the proxy on a full disk: /ready 503 naming the disk, a key refused as "the disk is full", not a 500', async () => {
    const proxy = await startService('proxy', { BEACON_DATA_DIR: join(dir, 'proxy') });
    try {
      fill();
      const ready = await fetch(`${proxy.url}/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.text()).toContain('the disk is full');
      const minted = await fetch(`${proxy.url}/api/keys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: 'x'.repeat(100) }),
      });
      const body = await minted.text();
      expect({ status: minted.status, body }).toMatchObject({
        status: 503,
        body: expect.stringContaining('disk is full'),
      });
    } finally {
      rmSync(filler, { force: true });
      await proxy.stop();
    }
  });
});
