import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { createInterface } from 'node:readline';

/** The processes below `pid` (its children, theirs, …), read from /proc: a PTY's shell leaves the group. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {}
  }
  const found: number[] = [];
  for (let queue = [pid]; queue.length; ) {
    const next = children.get(queue.shift() as number) ?? [];
    found.push(...next);
    queue.push(...next);
  }
  return found;
}

const signal = (pid: number, sig: NodeJS.Signals) => {
  try {
    process.kill(pid, sig);
  } catch {}
};

export interface CliRun {
  /** One line of the CLI's stdout at a time, as it comes. */
  lines: AsyncIterable<string>;
  /** Its exit code (a signal's end: 128 + its number) and the last line it wrote to stderr. */
  exited: Promise<{ code: number; lastError: string }>;
  /** Ends the CLI and everything it started: SIGTERM, then SIGKILL to what is left after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Runs an agent CLI in its own process group, the prompt on stdin. */
export function runCli(
  argv: string[],
  opts: { cwd: string; env: Record<string, string>; input: string },
): CliRun {
  const [bin, ...args] = argv as [string, ...string[]];
  const child: ChildProcess = spawn(bin, args, {
    cwd: opts.cwd,
    env: opts.env,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let lastError = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    const lines = chunk.split('\n').filter((l) => l.trim());
    if (lines.length) lastError = (lines.at(-1) as string).trim().slice(0, 500);
  });
  child.stdin?.on('error', () => {});
  child.stdin?.end(opts.input);
  const exited = new Promise<{ code: number; lastError: string }>((resolve) => {
    child.on('error', (err) => resolve({ code: 127, lastError: String(err) }));
    child.on('close', (code, sig) =>
      resolve({ code: code ?? 128 + (sig ? constants.signals[sig] : 0), lastError }),
    );
  });
  return {
    lines: createInterface({
      input: child.stdout as NodeJS.ReadableStream,
      crlfDelay: Number.POSITIVE_INFINITY,
    }),
    exited,
    async stop(graceMs = 2000) {
      const pid = child.pid;
      if (pid === undefined) return;
      const tree = descendants(pid);
      signal(-pid, 'SIGTERM');
      for (const p of tree) signal(p, 'SIGTERM');
      const done = await Promise.race([exited.then(() => true), Bun.sleep(graceMs).then(() => false)]);
      for (const p of [...tree, ...descendants(pid)]) signal(p, 'SIGKILL');
      if (!done) signal(-pid, 'SIGKILL');
      await exited;
    },
  };
}
