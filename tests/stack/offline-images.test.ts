/**
 * `bun run stack` on an engine that lacks images and reaches no registry: it names every missing image at once,
 * with how to provide it, before building or starting anything. Run on a copy of distro/ (it writes its .env).
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../support/command';
import { hasDocker, hasTool } from '../support/deps';
import { docker } from '../support/docker';

const available = (await hasDocker()) && hasTool('docker-compose');
const work = mkdtempSync(join(tmpdir(), 'beacon-offline-'));

describe.skipIf(!available)('bun run stack without the images it needs', () => {
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  test('lists every missing image with how to provide it, and starts nothing', async () => {
    cpSync('distro', join(work, 'distro'), { recursive: true });
    rmSync(join(work, 'distro/.env'), { force: true });
    rmSync(join(work, 'distro/.secrets'), { recursive: true, force: true });
    const before = (await docker.listContainers({ all: true })).length;
    const network = `beacon-offline-${process.pid}`;
    const run = await runCommand(['bash', join(work, 'distro/stack.sh')], {
      env: { BEACON_KERNEL_NETWORK: network, BEACON_INSTANCE: `offline${process.pid}` },
    });
    expect(run.code).toBe(1);
    // Grafana, Loki and Alloy are never on a machine without a registry; every missing one is named.
    for (const image of ['grafana/grafana', 'grafana/loki', 'grafana/alloy'])
      expect(run.output).toContain(image);
    expect(run.output).toContain('docker load -i');
    expect(run.output).toContain('Nothing was started.');
    expect((await docker.listContainers({ all: true })).length).toBe(before);
    expect(
      await docker
        .getNetwork(network)
        .inspect()
        .catch(() => 'none'),
    ).toBe('none');
  }, 120_000);
});
