import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Which agent session continues a Beacon `sessionId`, kept in the workspace beside the agent's own session
 * files (so both survive a restart of the container). Messages of one session run one after another: two at
 * once would fork the agent's history.
 */
export function createSessions(file: string) {
  let known: Record<string, string> = {};
  try {
    known = JSON.parse(readFileSync(file, 'utf8'));
  } catch {}
  const queues = new Map<string, Promise<unknown>>();
  return {
    get: (sessionId: string): string | undefined => known[sessionId],
    set(sessionId: string, agentSession: string) {
      if (known[sessionId] === agentSession) return;
      known = { ...known, [sessionId]: agentSession };
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(`${file}.next`, JSON.stringify(known));
      renameSync(`${file}.next`, file);
    },
    /** Runs `work` after the session's earlier messages have ended. */
    inTurn<T>(sessionId: string | undefined, work: () => Promise<T>): Promise<T> {
      if (!sessionId) return work();
      const turn = (queues.get(sessionId) ?? Promise.resolve()).then(work, work);
      const settled = turn.catch(() => {});
      queues.set(sessionId, settled);
      void settled.then(() => queues.get(sessionId) === settled && queues.delete(sessionId));
      return turn;
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
