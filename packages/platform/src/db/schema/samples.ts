import { integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * Resource history (docs/platform.md#history): one row per container per stats cycle, kept
 * BEACON_HISTORY_RAW_HOURS; keyed by (handle, at) in a WITHOUT ROWID table, so a range of one container is
 * one index scan and no second index is stored.
 */
export const samples = sqliteTable(
  'samples',
  {
    handle: text('handle').notNull(),
    /** Epoch milliseconds. */
    at: integer('at').notNull(),
    /** % of one core; null on a container's first sample (no previous one to compare). */
    cpu: real('cpu'),
    mem: integer('mem').notNull(),
    memLimit: integer('mem_limit').notNull(),
    /** Bytes per second since the previous sample; null on the first. */
    rx: real('rx'),
    tx: real('tx'),
    pids: integer('pids').notNull(),
  },
  (t) => [primaryKey({ columns: [t.handle, t.at] })],
);

/** One-minute aggregates of `samples`, kept BEACON_HISTORY_DAYS. */
export const sampleMinutes = sqliteTable(
  'sample_minutes',
  {
    handle: text('handle').notNull(),
    /** Start of the minute, epoch milliseconds. */
    minute: integer('minute').notNull(),
    /** Raw samples in the minute: the weight when minutes are combined into longer steps. */
    n: integer('n').notNull(),
    cpuAvg: real('cpu_avg'),
    cpuMax: real('cpu_max'),
    memAvg: real('mem_avg').notNull(),
    memMax: integer('mem_max').notNull(),
    memLimit: integer('mem_limit').notNull(),
    rxAvg: real('rx_avg'),
    txAvg: real('tx_avg'),
    pidsMax: integer('pids_max').notNull(),
  },
  (t) => [primaryKey({ columns: [t.handle, t.minute] })],
);

export type SampleRow = typeof samples.$inferSelect;
export type MinuteRow = typeof sampleMinutes.$inferSelect;
