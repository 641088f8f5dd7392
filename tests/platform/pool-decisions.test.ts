import { describe, expect, test } from 'bun:test';
import { decide, type PoolMember, surplus } from '../../packages/platform/src/pools/domain';

const member = (
  handle: string,
  status: string,
  tenant: string | null,
  lastTenant: string | null,
  at = 0,
) => ({
  handle,
  status,
  tenant,
  lastTenant,
  updatedAt: new Date(at),
});

describe('which container a tenant gets', () => {
  const cases: [string, PoolMember[], ReturnType<typeof decide>][] = [
    ['its own, when it holds one', [member('a', 'borrowed', 'ann', 'ann')], { kind: 'held', handle: 'a' }],
    [
      'its own on its way: wait for it',
      [member('a', 'pending', 'ann', 'ann')],
      { kind: 'wait', handles: ['a'] },
    ],
    [
      'its previous container, idle: a hit',
      [member('a', 'available', null, 'bob'), member('b', 'available', null, 'ann')],
      { kind: 'take', handle: 'b', affinity: 'hit', evicts: false },
    ],
    [
      'otherwise one nobody used before one kept for another',
      [member('a', 'available', null, 'bob'), member('b', 'available', null, null)],
      { kind: 'take', handle: 'b', affinity: 'miss', evicts: false },
    ],
    [
      'else the one released longest ago: an eviction',
      [member('a', 'available', null, 'bob', 2000), member('b', 'available', null, 'cy', 1000)],
      { kind: 'take', handle: 'b', affinity: 'miss', evicts: true },
    ],
    ['nothing idle, room left: grow', [member('a', 'borrowed', 'bob', 'bob')], { kind: 'grow' }],
    [
      'nothing idle but a warm one on its way, room left: wait for it rather than grow',
      [member('a', 'pending', null, 'bob')],
      { kind: 'wait', handles: ['a'] },
    ],
    [
      'at the maximum with a warm one on its way: wait for it',
      [member('a', 'borrowed', 'bob', 'bob'), member('b', 'pending', null, null)],
      { kind: 'wait', handles: ['b'] },
    ],
    [
      'at the maximum, all held (a wipe for another tenant counts as held): exhausted',
      [member('a', 'borrowed', 'bob', 'bob'), member('b', 'pending', 'cy', 'cy')],
      { kind: 'exhausted' },
    ],
  ];
  for (const [name, members, expected] of cases)
    test(name, () => expect(decide(members, 'ann', 2)).toEqual(expected));
});

describe('which idle containers a pool removes', () => {
  const now = 1_000_000;
  test('idle past the timeout and above min, the longest idle first; never below min', () => {
    const members = [
      member('held', 'borrowed', 'ann', 'ann', 0),
      member('old', 'available', null, 'bob', now - 600_000),
      member('older', 'available', null, null, now - 900_000),
      member('fresh', 'available', null, null, now - 1_000),
    ];
    expect(surplus(members, 1, 300_000, now)).toEqual(['older', 'old']);
    expect(surplus(members, 2, 300_000, now)).toEqual(['older']);
    expect(surplus(members, 3, 300_000, now)).toEqual([]);
    expect(surplus(members, 0, 3_600_000, now)).toEqual([]);
  });
});
