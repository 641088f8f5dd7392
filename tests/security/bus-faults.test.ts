import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasTool } from '../support/deps';
import { startFakeUpstream } from '../support/fake-upstream';
import { post } from '../support/http';
import { startNats } from '../support/nats';
import { type RunningService, startService } from '../support/service';
import { eventually } from '../support/wait';

const available = hasTool('nats-server');
const handle = 'busfault';

/**
 * The real gateway and the real kernel (run as a process here, not in a container) on a real NATS, the
 * real proxy before a fake upstream, and a stand-in for the platform's GET /api/containers/:handle (the
 * only platform call a dispatch makes; a TEST DOUBLE answering the documented shape).
 */
describe.skipIf(!available)('faults: NATS and gateway restarts during dispatches', () => {
  const work = mkdtempSync(join(tmpdir(), 'beacon-busfault-'));
  const fake = startFakeUpstream({ latencyMs: 400, chunks: 2 });
  const platform = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: () => Response.json({ handle, owner: 'fay', state: 'running', docker: { ip: '127.0.0.1' } }),
  });
  let nats: Awaited<ReturnType<typeof startNats>>;
  let proxy: RunningService;
  let kernel: RunningService;
  let gateway: RunningService;
  const gatewayEnv = () => ({
    BEACON_NATS_URL: nats.url,
    BEACON_PLATFORM_URL: `http://127.0.0.1:${platform.port}`,
    BEACON_DATA_DIR: join(work, 'gateway'),
    BEACON_HOME: join(work, 'home'),
    BEACON_DISPATCH_TIMEOUT: '30',
  });

  beforeAll(async () => {
    nats = await startNats();
    proxy = await startService('proxy', {
      BEACON_DATA_DIR: join(work, 'proxy'),
      BEACON_UPSTREAM_OPENAI_URL: fake.url,
    });
    const { key } = await (await post(`${proxy.url}/api/keys`, { user: 'fay', handle })).json();
    kernel = await startService('kernel', {
      BEACON_HOST: '127.0.0.1',
      BEACON_HANDLE: handle,
      BEACON_PROXY_URL: proxy.url,
      BEACON_PROXY_KEY: key,
      BEACON_PROXY_KEY_FILE: join(work, 'no-key-file'),
      BEACON_NATS_URL: nats.url,
    });
    gateway = await startService('gateway', gatewayEnv());
    // The kernel's command consumer is in place once a first message is answered.
    await eventually(async () => {
      const res = await post(`${gateway.url}/api/message`, { handle, text: 'warm up' });
      return res.status === 200;
    }, 20_000);
  });

  afterAll(async () => {
    for (const s of [gateway, kernel, proxy]) await s?.stop();
    await nats?.dispose();
    platform.stop(true);
    fake.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('NATS restarted during async dispatches: each one is answered, or refused at once — none lost', async () => {
    const sent: Promise<{ status: number; ms: number; taskId?: string }>[] = [];
    const fire = () => {
      const started = performance.now();
      return post(`${gateway.url}/api/message`, { handle, text: 'async', async: true }).then(async (res) => ({
        status: res.status,
        ms: performance.now() - started,
        ...(res.status === 202 ? { taskId: (await res.json()).taskId } : {}),
      }));
    };
    for (let i = 0; i < 20; i++) {
      sent.push(fire());
      await Bun.sleep(20);
    }
    // In flight at the upstream (400 ms) when NATS goes: their results are produced during the gap.
    await nats.stop();
    for (let i = 0; i < 20; i++) {
      sent.push(fire());
      await Bun.sleep(50);
    }
    await nats.restart();
    for (let i = 0; i < 20; i++) {
      sent.push(fire());
      await Bun.sleep(20);
    }
    const answers = await Promise.all(sent);
    const refused = answers.filter((a) => a.status === 503);
    const accepted = answers.filter((a) => a.status === 202);
    expect(refused.length + accepted.length).toBe(answers.length);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) expect(r.ms).toBeLessThan(2500);
    // Every accepted command completes: none was a 202 that silently timed out.
    const settled = await eventually(async () => {
      const tasks = await Promise.all(
        accepted.map(
          async (a) => (await (await fetch(`${gateway.url}/api/tasks/${a.taskId}`)).json()).status,
        ),
      );
      return tasks.every((s) => s !== 'running') ? tasks : undefined;
    }, 60_000);
    expect(settled.filter((s) => s !== 'completed')).toEqual([]);
  }, 120_000);

  test('a gateway restart: finished tasks still answer', async () => {
    const done = await Promise.all(
      Array.from({ length: 5 }, async () =>
        (await post(`${gateway.url}/api/message`, { handle, text: 'keep' })).json(),
      ),
    );
    expect(done.every((d) => d.status === 'ok')).toBe(true);
    await gateway.stop();
    gateway = await startService('gateway', gatewayEnv());
    for (const d of done) {
      const task = await (await fetch(`${gateway.url}/api/tasks/${d.taskId}`)).json();
      expect(task).toMatchObject({ id: d.taskId, status: 'completed', result: { text: expect.any(String) } });
    }
    const list = await (await fetch(`${gateway.url}/api/tasks?handle=${handle}`)).json();
    expect(list.tasks.length).toBeGreaterThanOrEqual(5);
  }, 60_000);
});
