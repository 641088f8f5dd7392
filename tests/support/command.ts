/** Run a command to its end: exit code, stdout, and stdout + stderr together. */
export async function runCommand(
  cmd: string[],
  { stdin, env = {} }: { stdin?: string; env?: Record<string, string> } = {},
) {
  const proc = Bun.spawn(cmd, {
    stdin: stdin === undefined ? 'ignore' : 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
    env: { ...Bun.env, ...env },
  });
  if (stdin !== undefined && proc.stdin) {
    proc.stdin.write(stdin);
    await proc.stdin.end();
  }
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, output: stdout + stderr };
}
