import { describe, expect, test } from 'bun:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, subjects } from '@beacon/core';
import { Registry } from 'prom-client';
import { createPlatformClient } from '../../packages/gateway/src/clients/platform';
import { startEventSide } from '../../packages/gateway/src/events';
import { createInteractionLogger } from '../../packages/gateway/src/interaction-logger';
import { createMetrics } from '../../packages/gateway/src/metrics';
import { eventually } from '../support/wait';

describe("the gateway's view of the platform", () => {
  test('a running container is resolved once and remembered; forget() asks the platform again', async () => {
    let asked = 0;
    const platform = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch: () => {
        asked++;
        return Response.json({
          handle: 'ada',
          owner: 'ada',
          state: 'running',
          // The second answer names a published address (a platform whose kernels are published).
          docker: { ip: `10.0.0.${asked}`, ...(asked > 1 ? { address: '172.31.250.1:32771' } : {}) },
        });
      },
    });
    try {
      const client = createPlatformClient(`http://127.0.0.1:${platform.port}`);
      expect((await client.resolve('ada')).address).toBe('10.0.0.1:7681');
      expect((await client.resolve('ada')).address).toBe('10.0.0.1:7681');
      expect(asked).toBe(1);
      client.forget('ada');
      expect((await client.resolve('ada')).address).toBe('172.31.250.1:32771');
    } finally {
      platform.stop(true);
    }
  });

  test('every container event reaches onContainerEvent (deps.ts makes the client forget the handle)', async () => {
    const seen: string[] = [];
    const metrics = createMetrics(new Registry());
    const log = createLogger({ service: 'gateway', level: 'silent' });
    const events = startEventSide({
      platformUrl: 'http://127.0.0.1:1',
      sseQueueSize: 16,
      metrics,
      log,
      interactions: createInteractionLogger(mkdtempSync(join(tmpdir(), 'gw-home-')), metrics, log),
      onContainerEvent: (handle) => seen.push(handle),
    });
    try {
      const event = {
        type: 'container.recycled',
        handle: 'ada',
        containerId: 'c2',
        at: new Date().toISOString(),
      };
      await events.bus.publish(subjects.platformEvents, event);
      await events.bus.publish(subjects.platformEvents, { type: 'not-a-container-event' });
      await eventually(() => seen.length > 0, 1000);
      expect(seen).toEqual(['ada']);
    } finally {
      await events.stop();
    }
  });
});
