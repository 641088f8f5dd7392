import { describe, expect, test } from 'bun:test';
import { ConfigError } from '@beacon/core';
import { loadConfig as loadGateway } from '../../packages/gateway/src/config';
import { loadConfig as loadPlatform } from '../../packages/platform/src/config';
import { loadConfig as loadProxy } from '../../packages/proxy/src/config';

function problems(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  test('defaults: the contract ports on loopback', () => {
    expect(loadGateway({}).BEACON_PORT).toBe(4000);
    expect(loadPlatform({}).BEACON_PORT).toBe(9000);
    expect(loadProxy({}).BEACON_PORT).toBe(8080);
    expect(loadProxy({}).BEACON_HOST).toBe('127.0.0.1');
    expect(loadProxy({ BEACON_PORT: '18080' }).BEACON_PORT).toBe(18080);
  });

  test('every bad variable is listed at once', () => {
    const listed = problems(() =>
      loadPlatform({ BEACON_PORT: 'abc', BEACON_STATS_INTERVAL: '-1', BEACON_LOG_LEVEL: 'loud' }),
    );
    expect(listed).toHaveLength(3);
    expect(listed.join('\n')).toContain('BEACON_PORT');
    expect(listed.join('\n')).toContain('BEACON_STATS_INTERVAL');
    expect(listed.join('\n')).toContain('BEACON_LOG_LEVEL');
  });

  test('binding beyond loopback without an admin token fails and says why', () => {
    const listed = problems(() => loadGateway({ BEACON_HOST: '0.0.0.0', BEACON_PORT: 'x' }));
    expect(listed.some((p) => p.startsWith('BEACON_PORT'))).toBe(true);
    expect(listed.find((p) => p.startsWith('BEACON_HOST'))).toContain('BEACON_ADMIN_TOKEN must be set');
    const ok = loadGateway({ BEACON_HOST: '0.0.0.0', BEACON_ADMIN_TOKEN: 'a-long-enough-admin-token' });
    expect(ok.BEACON_HOST).toBe('0.0.0.0');
  });

  test('Loki, OTLP and Langfuse settings are checked: a URL must be one, Langfuse needs all three', () => {
    expect(problems(() => loadPlatform({ BEACON_LOKI_URL: 'loki 3100', BEACON_OTLP_URL: 'x' }))).toEqual([
      'BEACON_LOKI_URL: Invalid URL',
      'BEACON_OTLP_URL: Invalid URL',
    ]);
    expect(problems(() => loadPlatform({ BEACON_LANGFUSE_URL: 'http://lf:3000' }))).toEqual([
      'BEACON_LANGFUSE_URL: Langfuse needs BEACON_LANGFUSE_URL, BEACON_LANGFUSE_PUBLIC_KEY and BEACON_LANGFUSE_SECRET_KEY together',
    ]);
    const lf = {
      BEACON_LANGFUSE_URL: 'http://lf:3000',
      BEACON_LANGFUSE_PUBLIC_KEY: 'pk-lf-1',
      BEACON_LANGFUSE_SECRET_KEY: 'sk-lf-1',
    };
    expect(loadPlatform(lf).BEACON_LANGFUSE_URL).toBe('http://lf:3000');
  });

  test('a token value is never echoed in the problem list', () => {
    const listed = problems(() => loadGateway({ BEACON_ADMIN_TOKEN: 'short' }));
    expect(listed.join('\n')).toContain('BEACON_ADMIN_TOKEN');
    expect(listed.join('\n')).not.toContain('short"');
  });
});
