import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasDocker } from '../support/deps';
import { ensureTestImage, handlePrefix, removeContainers, TEST_IMAGE } from '../support/docker';
import { freePort } from '../support/ports';
import { type RunningService, startService } from '../support/service';
import { eventually } from '../support/wait';

// US52 without Loki: every container's engine logs over the whole window, from the platform's API.
const available = await hasDocker();
const ADMIN = 'log-search-admin-token-0123456789';
const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
const prefix = handlePrefix('logs');
const work = mkdtempSync(join(tmpdir(), 'beacon-logs-'));

interface Found {
  timestamp: string;
  handle: string;
  message: string;
}

describe.skipIf(!available)('log search across containers, from the engine', () => {
  let platform: RunningService;
  const early = `${prefix}-early`;
  const late = `${prefix}-late`;
  const search = async (query: string) => fetch(`${platform.url}/api/logs?${query}`, { headers: auth });
  const lines = async (query: string) => ((await (await search(query)).json()).lines as Found[]) ?? [];

  beforeAll(async () => {
    await ensureTestImage();
    platform = await startService('platform', {
      BEACON_ADMIN_TOKEN: ADMIN,
      BEACON_PORT: String(await freePort()),
      BEACON_DATA_DIR: join(work, 'platform'),
      BEACON_INSTANCE: `logs-${prefix}`,
      BEACON_DEFAULT_IMAGE: TEST_IMAGE,
      BEACON_SECRETS_RUNTIME_DIR: join(work, 'secrets'),
    });
    const create = (handle: string, script: string) =>
      fetch(`${platform.url}/api/containers?wait=false`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ handle, health: 'none', memoryMb: 64, command: ['sh', '-c', script] }),
      });
    // The needle first, then 5,000 lines after it: a tail would never reach it.
    expect(
      (
        await create(
          early,
          'echo "needle in the early one"; i=0; while [ $i -lt 5000 ]; do echo "filler $i"; i=$((i+1)); done; sleep 3600',
        )
      ).status,
    ).toBe(201);
    await eventually(async () => (await lines(`handle=${early}&q=filler%204999`)).length === 1, 15_000);
    expect((await create(late, 'sleep 1; echo "NEEDLE in the late one"; sleep 3600')).status).toBe(201);
    await eventually(async () => (await lines(`handle=${late}&q=needle`)).length === 1, 15_000);
  });

  afterAll(async () => {
    await platform?.stop();
    await removeContainers(prefix);
    rmSync(work, { recursive: true, force: true });
  });

  test('a line with thousands after it is found; two containers merge newest first', async () => {
    const res = await search('q=needle');
    const body = await res.json();
    expect(body.source).toBe('engine');
    const found = (body.lines as Found[]).filter((l) => l.handle.startsWith(prefix));
    expect(found.map((l) => [l.handle, l.message])).toEqual([
      [late, 'NEEDLE in the late one'],
      [early, 'needle in the early one'],
    ]);
    expect(Date.parse(found[0]?.timestamp ?? '')).toBeGreaterThan(Date.parse(found[1]?.timestamp ?? ''));
  });

  test('limit keeps the newest; a window before the lines finds nothing', async () => {
    const newest = await lines(`handle=${early}&q=filler&limit=3`);
    expect(newest.map((l) => l.message)).toEqual(['filler 4999', 'filler 4998', 'filler 4997']);
    const before = new Date(Date.now() - 3_600_000).toISOString();
    const until = new Date(Date.now() - 3_000_000).toISOString();
    expect(await lines(`q=needle&since=${before}&until=${until}`)).toEqual([]);
  });

  test('bad input is named', async () => {
    for (const [query, field] of [
      ['since=yesterday', 'query.since'],
      [
        `since=${new Date().toISOString()}&until=${new Date(Date.now() - 60_000).toISOString()}`,
        'query.until',
      ],
      ['traceId=not%20a%20trace', 'query.traceId'],
      ['limit=0', 'query.limit'],
      ['handle=Not_A_Handle', 'query.handle'],
    ]) {
      const res = await search(query ?? '');
      expect(res.status).toBe(400);
      expect((await res.json()).error.message).toContain(field);
    }
  });
});
