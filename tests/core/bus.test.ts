import { describe, expect, test } from 'bun:test';
import { type BusMessage, createMemoryBus, subjectMatches } from '@beacon/core';

describe('event bus', () => {
  test('NATS wildcard semantics', () => {
    expect(subjectMatches('beacon.*.progress', 'beacon.alice.progress')).toBe(true);
    expect(subjectMatches('beacon.*.progress', 'beacon.alice.results')).toBe(false);
    expect(subjectMatches('beacon.*.progress', 'beacon.a.b.progress')).toBe(false);
    expect(subjectMatches('beacon.>', 'beacon.a.b.c')).toBe(true);
    expect(subjectMatches('beacon.>', 'beacon')).toBe(false);
    expect(subjectMatches('beacon.platform.events', 'beacon.platform.events')).toBe(true);
  });

  test('in-process bus delivers to matching subscribers, with the traceId, after publish returns', async () => {
    const bus = createMemoryBus();
    const got: BusMessage[] = [];
    const unsubscribe = bus.subscribe('beacon.*.results', (m) => {
      got.push(m);
    });
    bus.subscribe('beacon.*.errors', () => {
      throw new Error('a failing subscriber must not affect others');
    });
    const published = bus.publish('beacon.bob.results', { taskId: 't1' }, { traceId: 'tr-1' });
    expect(got).toHaveLength(0);
    await published;
    await bus.publish('beacon.bob.errors', { taskId: 't1' });
    await Bun.sleep(0);
    expect(got).toEqual([{ subject: 'beacon.bob.results', data: { taskId: 't1' }, traceId: 'tr-1' }]);
    unsubscribe();
    await bus.publish('beacon.bob.results', { taskId: 't2' });
    await Bun.sleep(0);
    expect(got).toHaveLength(1);
  });
});
