import { describe, expect, test } from 'bun:test';
import { createLogger } from '@beacon/core';

describe('logger', () => {
  const capture = () => {
    const lines: string[] = [];
    const log = createLogger({ service: 'proxy', destination: { write: (l: string) => void lines.push(l) } });
    return { log, last: () => JSON.parse(lines.at(-1) as string) };
  };

  test('a line is JSON: timestamp, level, service, the fields, msg', () => {
    const { log, last } = capture();
    log.child({ traceId: 't-1' }).info({ event: 'proxy.call', costUsd: 0.5 }, 'AI call recorded');
    expect(last()).toMatchObject({
      level: 'info',
      service: 'proxy',
      traceId: 't-1',
      event: 'proxy.call',
      costUsd: 0.5,
      msg: 'AI call recorded',
    });
    expect(Date.parse(last().timestamp)).toBeGreaterThan(0);
  });

  test('secrets one level down read [redacted]; the rest, and the caller’s object, are left as they were', () => {
    const { log, last } = capture();
    const headers = { authorization: 'Bearer sk-live', accept: 'application/json' };
    log.warn(
      {
        event: 'x',
        headers,
        body: { password: 'p', secret: 's', token: 't', apiKey: 'k', user: 'ann' },
        list: ['Bearer in an array is data'],
        err: new Error('boom'),
      },
      'with secrets',
    );
    const line = last();
    expect(line.headers).toEqual({ authorization: '[redacted]', accept: 'application/json' });
    expect(line.body).toEqual({
      password: '[redacted]',
      secret: '[redacted]',
      token: '[redacted]',
      apiKey: '[redacted]',
      user: 'ann',
    });
    expect(line.list).toEqual(['Bearer in an array is data']);
    expect(line.err.message).toBe('boom');
    expect(headers.authorization).toBe('Bearer sk-live');
  });
});
