import { describe, expect, test } from 'bun:test';
import { openDatabase } from '../../packages/gateway/src/db';
import { TaskStore } from '../../packages/gateway/src/tasks';

describe('stored tasks', () => {
  test('a finished task answers from a new store; one left running ends as interrupted over HTTP only', () => {
    const db = openDatabase(':memory:');
    const before = new TaskStore(10_000, db);
    const done = before.create('t-done', 'alice', 'tr-1');
    done.status = 'completed';
    before.notify({ type: 'task.completed', data: {}, task: done });
    before.create('t-cut', 'alice', 'tr-2');
    before.flush();

    const afterNats = new TaskStore(10_000, db);
    expect(afterNats.closeInterrupted('nats')).toBe(0);
    expect(afterNats.get('t-cut')?.status).toBe('running');

    const after = new TaskStore(10_000, db);
    expect(after.get('t-done')).toMatchObject({ id: 't-done', status: 'completed' });
    expect(after.closeInterrupted('http')).toBe(1);
    expect(after.get('t-cut')).toMatchObject({ status: 'failed', error: { code: 'interrupted' } });
    expect(
      after
        .list('alice')
        .map((t) => t.id)
        .sort(),
    ).toEqual(['t-cut', 't-done']);
  });
});
