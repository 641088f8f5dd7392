import { describe, expect, test } from 'bun:test';
import { coalescedByKey } from '@beacon/core';

describe('coalescedByKey', () => {
  test('alone a want runs at once; those that come while it runs go together next, per key, in order', async () => {
    const runs: [string, number[]][] = [];
    const run = coalescedByKey<number, string>(async (key, wants) => {
      runs.push([key, wants]);
      await Bun.sleep(10);
      return wants.map((w) => `${key}${w}`);
    });
    const first = run('a', 1);
    expect(runs).toEqual([['a', [1]]]);
    const rest = [run('a', 2), run('b', 9), run('a', 3)];
    expect(await Promise.all([first, ...rest])).toEqual(['a1', 'a2', 'b9', 'a3']);
    expect(runs).toEqual([
      ['a', [1]],
      ['b', [9]],
      ['a', [2, 3]],
    ]);
  });

  test('a failed run rejects its own wants only; the next run goes on', async () => {
    let calls = 0;
    const run = coalescedByKey<number, number>(async (_key, wants) => {
      calls++;
      await Bun.sleep(5);
      if (calls === 1) throw new Error('database away');
      return wants;
    });
    const failed = run('a', 1);
    const next = run('a', 2);
    await expect(failed).rejects.toThrow('database away');
    expect(await next).toBe(2);
  });
});
