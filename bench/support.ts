import { readFileSync } from 'node:fs';

export { freePort } from '../tests/support/ports';

/** CPU time (user + system) a process has used, µs (Linux /proc; clock ticks of 10 ms). */
export const cpuMicros = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
};

/** Requests per second that wrk measured against `url`. */
export async function runWrk(url: string, seconds: number, connections = 32): Promise<number> {
  // wrk on the second core, the servers (this process) on the first: less noise on a 2-core machine.
  const pin = Bun.which('taskset') ? ['taskset', '-c', '1'] : [];
  const proc = Bun.spawn([...pin, 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, url], {
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const out = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) throw new Error(`wrk failed: ${await new Response(proc.stderr).text()}`);
  const match = out.match(/Requests\/sec:\s+([\d.]+)/);
  if (!match) throw new Error(`unexpected wrk output: ${out}`);
  return Number(match[1]);
}

/** Run `fn` with this process on core 0 (wrk runs on core 1), then give it every core back. */
export async function onFirstCore<T>(fn: () => Promise<T>): Promise<T> {
  const taskset = (cpus: string) =>
    Bun.spawnSync(['taskset', '-p', '-c', cpus, String(process.pid)], { stdout: 'ignore' });
  if (!Bun.which('taskset')) return fn();
  taskset('0');
  try {
    return await fn();
  } finally {
    taskset(`0-${navigator.hardwareConcurrency - 1}`);
  }
}
