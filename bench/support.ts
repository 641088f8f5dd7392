export { freePort } from '../tests/support/ports';

/** Requests per second that wrk measured against `url`. */
export async function runWrk(url: string, seconds: number, connections = 32): Promise<number> {
  const proc = Bun.spawn(['wrk', '-t1', `-c${connections}`, `-d${seconds}s`, url], {
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const out = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) throw new Error(`wrk failed: ${await new Response(proc.stderr).text()}`);
  const match = out.match(/Requests\/sec:\s+([\d.]+)/);
  if (!match) throw new Error(`unexpected wrk output: ${out}`);
  return Number(match[1]);
}
