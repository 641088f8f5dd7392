import { describe, expect, test } from 'bun:test';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { proxyKeyFrom } from '../../packages/kernel/src/agent';

describe('the kernel’s proxy key', () => {
  test('follows the file: replaced by a rename, rewritten in place, removed (then the env’s)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-key-'));
    const path = join(dir, 'proxy-key');
    const key = proxyKeyFrom(path, 'bk_env');
    try {
      expect(key()).toBe('bk_env');
      writeFileSync(path, 'bk_first\n');
      expect(key()).toBe('bk_first');
      expect(key()).toBe('bk_first');
      // As the platform hands a pooled container to a tenant: a new file renamed over the old one.
      writeFileSync(`${path}.tmp`, 'bk_tenant');
      renameSync(`${path}.tmp`, path);
      expect(key()).toBe('bk_tenant');
      writeFileSync(path, 'bk_rewritten_in_place');
      expect(key()).toBe('bk_rewritten_in_place');
      writeFileSync(path, '  \n');
      expect(key()).toBe('bk_env');
      rmSync(path);
      expect(key()).toBe('bk_env');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
