/**
 * A worker thread that copies a WAL database's new pages back into it (a PASSIVE checkpoint) every few
 * milliseconds, on a connection of its own, so the service's event loop never does: openSqlite starts one
 * per database file with `{ path, everyMs }` as its data; `'stop'` closes its connection and ends it.
 */
import { Database } from 'bun:sqlite';
import { parentPort, workerData } from 'node:worker_threads';

const { path, everyMs } = workerData as { path: string; everyMs: number };

let db: Database | undefined;
try {
  db = new Database(path, { readwrite: true, create: false });
} catch {
  // The file is gone already (a connection closed and its directory removed): nothing to copy.
}
const timer = setInterval(() => {
  try {
    // PASSIVE waits for no one: what a writer or reader holds is left for the next round.
    db?.exec('PRAGMA wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or a failing disk: the next round tries again, and the connection's own backstop holds.
  }
}, everyMs);

const stop = () => {
  clearInterval(timer);
  db?.close();
  parentPort?.close();
};
if (!db) stop();
parentPort?.on('message', (message) => message === 'stop' && stop());
