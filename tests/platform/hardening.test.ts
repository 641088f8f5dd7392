import { describe, expect, test } from 'bun:test';
import { AppError } from '@beacon/core';
import { createPlatformParts, docker, execIn, onTestEngine } from '../support/docker';

const { available, prefix } = await onTestEngine('hard');

describe.skipIf(!available)('containers hardened by default', () => {
  test('no capability, no new privileges, a PIDs limit: a fork bomb stops there and its neighbour is unaffected', async () => {
    const { containers } = createPlatformParts();
    const bomb = `${prefix}-bomb`;
    const neighbour = `${prefix}-calm`;
    await containers.create({ handle: bomb, health: 'none', pidsLimit: 64 }, { wait: false });
    await containers.create({ handle: neighbour, health: 'none' }, { wait: false });
    const info = await docker.getContainer(`beacon-${bomb}`).inspect();
    expect(info.HostConfig.CapDrop).toEqual(['ALL']);
    expect(info.HostConfig.SecurityOpt).toContain('no-new-privileges:true');
    expect(info.HostConfig.PidsLimit).toBe(64);
    expect((await docker.getContainer(`beacon-${neighbour}`).inspect()).HostConfig.PidsLimit).toBe(512);
    // 200 sleepers asked for: the limit refuses the rest (the shell itself then cannot fork: it fails).
    const bombed = await execIn(bomb, 'sh', '-c', 'for i in $(seq 200); do (sleep 30 &); done').catch((e) =>
      String(e),
    );
    expect(bombed).toContain("can't fork");
    const top = await docker.getContainer(`beacon-${bomb}`).top();
    expect(top.Processes.length).toBeLessThanOrEqual(64);
    expect(top.Processes.length).toBeGreaterThan(32);
    expect((await execIn(neighbour, 'sh', '-c', 'echo alive')).trim()).toBe('alive');
    // Root in the container cannot do what a capability would allow (CAP_CHOWN dropped).
    await expect(execIn(neighbour, 'chown', '1234', '/tmp')).rejects.toThrow();
  });

  test('memory or CPUs above the operator maximum is a 400 before Docker sees it', async () => {
    const { containers } = createPlatformParts();
    for (const ask of [{ memoryMb: 1_048_576 }, { cpus: 200 }]) {
      const err = await containers
        .create({ handle: `${prefix}-big`, health: 'none', ...ask })
        .catch((e) => e);
      expect(err).toBeInstanceOf(AppError);
      expect(err.status).toBe(400);
      expect(err.message).toMatch(/maximum .*(BEACON_MAX_MEMORY_MB|BEACON_MAX_CPUS)/);
    }
    expect(containers.find(`${prefix}-big`)).toBeUndefined();
  });
});
