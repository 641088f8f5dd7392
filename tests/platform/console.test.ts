import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { formatUsd } from '../../packages/platform/src/domain/format';
import { hasDocker, hasTool } from '../support/deps';
import { docker, ensureTestImage, handlePrefix, removeContainers, TEST_IMAGE } from '../support/docker';
import { startFakeUpstream } from '../support/fake-upstream';
import { freePort } from '../support/ports';
import { openaiCall } from '../support/proxy';
import { type RunningService, startService } from '../support/service';
import { eventually } from '../support/wait';

const available = (await hasDocker()) && hasTool('chromium');
const ADMIN = 'console-admin-token-0123456789';
const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
const prefix = handlePrefix('con');
const work = mkdtempSync(join(tmpdir(), 'beacon-console-'));
const busy = `${prefix}-busy`;
const idle = `${prefix}-idle`;
const web = `${prefix}-web`;
const late = `${prefix}-late`;
const oom = `${prefix}-oom`;

/**
 * TEST DOUBLE of the gateway's two reads the console makes, in the gateway's documented wire format:
 * GET /api/alerts (docs/gateway.md) and GET /api/interactions (docs/dispatch.md).
 */
function fakeGateway() {
  return Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === '/api/alerts')
        return Response.json({
          alerts: [
            {
              alertname: 'ContainerOOMKilled',
              status: 'firing',
              severity: 'critical',
              summary: 'A managed container was OOM-killed',
              labels: { alertname: 'ContainerOOMKilled', severity: 'critical' },
              startsAt: new Date().toISOString(),
              source: 'alertmanager',
              receivedAt: new Date().toISOString(),
            },
          ],
        });
      if (url.pathname === '/api/interactions' && req.headers.get('authorization') === `Bearer ${ADMIN}`)
        return Response.json({
          date: new Date().toISOString().slice(0, 10),
          interactions: [
            {
              timestamp: new Date().toISOString(),
              traceId: 'tr-1',
              source: 'api',
              handle: url.searchParams.get('handle'),
              sessionId: null,
              prompt: 'hello',
              toolsUsed: [],
              tokens: { input: 120, output: 40 },
              costUsd: 0.0012,
              model: 'gpt-4o',
              durationMs: 830,
              status: 'completed',
            },
          ],
          totals: { dispatches: 1, costUsd: 0.0012, inputTokens: 120, outputTokens: 40 },
        });
      return new Response('not found', { status: 404 });
    },
  });
}

describe.skipIf(!available)('history and the console on a real engine, in real Chromium', () => {
  const upstream = startFakeUpstream();
  const gateway = fakeGateway();
  let proxy: RunningService;
  let platform: RunningService;
  let platformEnv: Record<string, string>;
  let browser: Browser;
  let page: Page;
  let webCost = 0;

  const api = (path: string, method = 'GET', body?: unknown) =>
    fetch(`${platform.url}${path}`, {
      method,
      headers: auth,
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  const create = async (body: Record<string, unknown>) =>
    expect(
      (await api('/api/containers?wait=false', 'POST', { health: 'none', memoryMb: 64, ...body })).status,
    ).toBe(201);
  const metrics = async (handle: string, query = '') => api(`/api/containers/${handle}/metrics${query}`);
  const cpuOf = async (handle: string) =>
    ((await (await metrics(handle, '?step=raw')).json()).samples as { cpuPercent: number | null }[])
      .map((s) => s.cpuPercent)
      .filter((v): v is number => v !== null);

  beforeAll(async () => {
    await ensureTestImage();
    proxy = await startService('proxy', {
      BEACON_ADMIN_TOKEN: ADMIN,
      BEACON_DATA_DIR: join(work, 'proxy'),
      BEACON_UPSTREAM_OPENAI_URL: upstream.url,
    });
    platformEnv = {
      BEACON_ADMIN_TOKEN: ADMIN,
      BEACON_PORT: String(await freePort()),
      BEACON_DATA_DIR: join(work, 'platform'),
      BEACON_INSTANCE: `console-${prefix}`,
      BEACON_DEFAULT_IMAGE: TEST_IMAGE,
      BEACON_SECRETS_RUNTIME_DIR: join(work, 'secrets'),
      BEACON_STATS_INTERVAL: '1',
      BEACON_RESTART_BACKOFF: '300',
      BEACON_PROXY_URL: proxy.url,
      BEACON_GATEWAY_URL: `http://127.0.0.1:${gateway.port}`,
    };
    platform = await startService('platform', platformEnv);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({
      viewport: { width: 1600, height: 900 },
      httpCredentials: { username: 'operator', password: ADMIN },
    });
  });

  afterAll(async () => {
    await browser?.close();
    await platform?.stop();
    await proxy?.stop();
    gateway.stop(true);
    upstream.stop();
    await removeContainers(prefix);
    rmSync(work, { recursive: true, force: true });
  });

  test('history: samples accumulate; a busy loop is near 100 % CPU, an idle container near 0', async () => {
    await create({ handle: busy, command: ['sh', '-c', 'while :; do :; done'] });
    await create({ handle: idle });
    await eventually(async () => (await cpuOf(busy)).length >= 4 && (await cpuOf(idle)).length >= 4, 20_000);
    const body = await (await metrics(busy, '?step=raw')).json();
    expect(body).toMatchObject({ handle: busy, step: 'raw' });
    const first = body.samples[0];
    expect(Object.keys(first).sort()).toEqual(
      [
        'at',
        'cpuPercent',
        'memoryBytes',
        'memoryLimitBytes',
        'pids',
        'rxBytesPerSec',
        'txBytesPerSec',
      ].sort(),
    );
    expect(first.memoryLimitBytes).toBe(64 * 1024 * 1024);
    expect(Date.parse(body.samples.at(-1).at)).toBeGreaterThan(Date.parse(first.at));
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0;
    expect(median(await cpuOf(busy))).toBeGreaterThan(70);
    expect(Math.max(...(await cpuOf(idle)))).toBeLessThan(5);

    const summary = await (await api('/api/metrics/summary')).json();
    const byHandle = new Map(summary.containers.map((c: { handle: string }) => [c.handle, c]));
    expect((byHandle.get(busy) as { cpuPercentAvg: number }).cpuPercentAvg).toBeGreaterThan(50);
    expect((byHandle.get(idle) as { cpuPercentMax: number }).cpuPercentMax).toBeLessThan(5);

    // Bad input is named; an unknown handle is 404.
    for (const [query, field] of [
      ['?from=yesterday', 'query.from'],
      ['?step=90s', 'query.step'],
      [`?from=${new Date(Date.now() - 3 * 86_400_000).toISOString()}&step=raw`, 'query.step'],
      [`?from=${new Date().toISOString()}&to=${new Date(Date.now() - 60_000).toISOString()}`, 'query.to'],
    ] as const) {
      const res = await metrics(busy, query);
      expect(res.status).toBe(400);
      expect((await res.json()).error.message).toContain(field);
    }
    expect((await metrics(`${prefix}-never`)).status).toBe(404);
    // Longer ranges come from minute aggregates.
    // Exactly 24 h (a `to` left to the server would make the range a few ms longer: a 3-minute step).
    const now = Date.now();
    const range = `?from=${new Date(now - 86_400_000).toISOString()}&to=${new Date(now).toISOString()}`;
    const day = await (await metrics(busy, range)).json();
    expect(day.step).toBe('120s');

    // A deleted container's history stays; the history survives a platform restart.
    expect((await api(`/api/containers/${idle}`, 'DELETE')).status).toBe(204);
    await platform.stop();
    platform = await startService('platform', platformEnv);
    const kept = await (await metrics(idle, '?step=raw')).json();
    expect(kept.samples.length).toBeGreaterThanOrEqual(4);
  }, 90_000);

  test('the console: every container live, charts with data, OOM shown as OOM, a stop from the page', async () => {
    await create({ handle: web });
    // One AI call billed to the container, so its cost today is known.
    const minted = await fetch(`${proxy.url}/api/keys`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ user: 'ann', handle: web }),
    });
    const { key } = (await minted.json()) as { key: string };
    const call = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(openaiCall()),
    });
    // As the proxy's usage answers give it: to the micro-dollar.
    webCost = Math.round(Number(call.headers.get('x-beacon-cost-usd')) * 1e6) / 1e6;
    expect(webCost).toBeGreaterThan(0);
    // And one on a key of no container (a user's own key).
    const own = await fetch(`${proxy.url}/api/keys`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ user: 'ann' }),
    });
    const ownKey = ((await own.json()) as { key: string }).key;
    await fetch(`${proxy.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ownKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(openaiCall()),
    });

    await page.goto(`${platform.url}/admin`);
    const row = (handle: string) => page.locator(`tr[data-handle="${handle}"]`);
    await row(web).waitFor({ timeout: 15_000 });
    await row(busy).waitFor();
    expect(await page.locator('#live').textContent()).toBe('live');
    await eventually(
      async () => (await row(web).locator('td.cost').textContent()) === formatUsd(webCost),
      15_000,
    );
    expect(await row(web).locator('td.state').textContent()).toBe('running');
    // Sparklines once there are two samples; the alert the gateway received is shown.
    await row(busy).locator('td.cpu svg polyline').waitFor({ timeout: 10_000 });
    await page.locator('[data-alert="ContainerOOMKilled"]').waitFor();

    // Containers made while the page is open appear without a reload.
    await page.evaluate(() => {
      (window as unknown as { marker: string }).marker = 'same page';
    });
    await create({ handle: late });
    await row(late).waitFor({ timeout: 10_000 });
    // An OOM-killed container is shown as OOM, first among the troubled ones.
    await create({
      handle: oom,
      memoryMb: 16,
      command: ['dd', 'if=/dev/zero', 'of=/dev/shm/fill', 'bs=1M', 'count=48'],
    });
    await row(oom).locator('.badge.oom').waitFor({ timeout: 30_000 });
    expect(await row(oom).locator('td.health').textContent()).toContain('OOM-killed');
    expect(await page.locator('#fleet tbody tr').first().getAttribute('data-handle')).toBe(oom);
    expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe('same page');
    await page.screenshot({ path: 'docs/img/console-fleet.png' });

    // A laptop's screen: the AI cost column is in view without scrolling, at 1280 and at 1024 pixels.
    for (const [width, height] of [
      [1280, 800],
      [1024, 768],
    ] as const) {
      await page.setViewportSize({ width, height });
      const cost = await row(web).locator('td.cost').boundingBox();
      const header = await page.locator('#fleet th', { hasText: 'AI cost today' }).boundingBox();
      expect({
        width,
        right: Math.ceil(Math.max(cost?.x ?? 1e9, header?.x ?? 1e9) + (cost?.width ?? 0)) <= width,
      }).toEqual({
        width,
        right: true,
      });
      await page.screenshot({ path: `docs/img/console-${width}.png` });
    }
    await page.setViewportSize({ width: 1440, height: 900 });

    // Spend on a key of no listed container is in the header's cost, and named as such.
    await page.locator('#cost-unattributed').waitFor({ timeout: 15_000 });

    // The OOM-killed one's timeline says so.
    await page.click(`a[href="#/c/${oom}"]`);
    await page.locator('#c-timeline li', { hasText: 'OOM-killed' }).first().waitFor({ timeout: 15_000 });
    await page.click('header a[href="#/"]');

    // One container: charts drawn with data, its dispatches and logs.
    await page.click(`a[href="#/c/${busy}"]`);
    await page.locator('#chart-cpu canvas').waitFor();
    const seriesPixels = () =>
      page.evaluate(() => {
        const canvas = document.querySelector<HTMLCanvasElement>('#chart-cpu canvas');
        const data = canvas?.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? [];
        let n = 0;
        // The CPU series' stroke, #2b6cb0.
        for (let i = 0; i < data.length; i += 4)
          if (
            Math.abs((data[i] ?? 0) - 43) < 20 &&
            Math.abs((data[i + 1] ?? 0) - 108) < 20 &&
            Math.abs((data[i + 2] ?? 0) - 176) < 20
          )
            n++;
        return n;
      });
    await eventually(async () => (await seriesPixels()) > 50, 10_000);
    await page.locator('#c-dispatches td', { hasText: 'gpt-4o' }).waitFor();
    expect(await page.locator('#c-dispatches tbody').textContent()).toContain('$0.00120');
    await page.click('#c-ranges button[data-range="24h"]');
    await page.locator('#c-ranges button.on[data-range="24h"]').waitFor();
    await page.click('#c-ranges button[data-range="1h"]');
    await eventually(async () => (await seriesPixels()) > 50, 10_000);
    await page.screenshot({ path: 'docs/img/console-container.png', fullPage: true });
    // Its logs as lines of time, level, event and message; a level filter.
    await page.locator('#c-logs tbody tr').first().waitFor();
    await page.click('#c-levels button[data-level="error"]');
    await page.locator('#c-levels button.on[data-level="error"]').waitFor();
    await page.click('#c-levels button[data-level=""]');

    // A stop from the page, confirmed: the container stops, the page says so, the audit trail has it.
    await page.click('header a[href="#/"]');
    await page.click(`a[href="#/c/${web}"]`);
    page.once('dialog', (dialog) => void dialog.accept());
    await page.click('#c-actions button[data-action="stop"]');
    await eventually(
      async () => !(await docker.getContainer(`beacon-${web}`).inspect()).State.Running,
      15_000,
    );
    await page.locator('#c-message', { hasText: 'stop: done' }).waitFor();
    await page.locator('#c-summary', { hasText: 'stopped by operator' }).waitFor({ timeout: 10_000 });
    const audit = await (await api(`/api/audit?action=container.stop&target=${web}`)).json();
    expect(audit.entries[0]).toMatchObject({ outcome: 'ok', actor: expect.stringMatching(/^admin-token:/) });
    // A dismissed confirmation does nothing.
    await page.click('header a[href="#/"]');
    // The stopped container shows its last known figures, said to be such.
    await eventually(
      async () => (await row(web).locator('td.memory').textContent())?.includes('(last)'),
      20_000,
    );
    page.once('dialog', (dialog) => void dialog.dismiss());
    await row(late).locator('button[data-action="stop"]').click();
    await Bun.sleep(500);
    expect((await docker.getContainer(`beacon-${late}`).inspect()).State.Running).toBe(true);
  }, 120_000);
});
