import { describe, expect, test } from 'bun:test';
import { lastExitOf, Marks } from '../../packages/platform/src/domain/exits';
import { nextAttempt, restartDelay } from '../../packages/platform/src/domain/restart-policy';

describe('how a container ended', () => {
  test('from the engine: code, OOM and how long it had run', () => {
    const started = '2026-12-01T10:00:00.000Z';
    const exit = { code: 137, oomKilled: true, finishedAt: '2026-12-01T10:00:30.000Z', error: '' };
    expect(lastExitOf(exit, started)).toEqual({
      lastExit: { code: 137, oomKilled: true, at: exit.finishedAt, reason: 'oom' },
      upMs: 30_000,
    });
    expect(lastExitOf({ ...exit, code: 3, oomKilled: false }, started).lastExit.reason).toBe(
      'exited with code 3',
    );
    expect(
      lastExitOf({ ...exit, code: 127, oomKilled: false, error: 'exec failed' }, started).lastExit.reason,
    ).toBe('exec failed');
    expect(lastExitOf(undefined, undefined, new Date(0))).toEqual({
      lastExit: {
        code: -1,
        oomKilled: false,
        at: '1970-01-01T00:00:00.000Z',
        reason: 'exited with code unknown',
      },
      upMs: 0,
    });
  });

  test('marks expire; first() is true once per window', () => {
    const marks = new Marks();
    marks.mark('a', 1000, 0);
    expect(marks.has('a', 999)).toBe(true);
    expect(marks.has('a', 1001)).toBe(false);
    expect(marks.first('b', 1000, 0)).toBe(true);
    expect(marks.first('b', 1000, 500)).toBe(false);
    expect(marks.first('b', 1000, 1500)).toBe(true);
  });

  test('backoff: 10 s doubling to 5 min; a container that stayed up 5 min starts over', () => {
    const policy = { initialMs: 10_000, maxMs: 300_000 };
    const delays = [0, 1, 2, 3, 4, 5, 6].map((a) => restartDelay(a, policy));
    expect(delays).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
    expect(nextAttempt(undefined, 1000, policy)).toBe(0);
    expect(nextAttempt(3, 1000, policy)).toBe(4);
    expect(nextAttempt(3, 300_000, policy)).toBe(0);
  });
});
