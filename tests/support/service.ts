import { runCommand } from './command';
import { freePort } from './ports';

export interface RunningService {
  url: string;
  pid: number;
  stop(): Promise<void>;
  /** kill -9: no shutdown step runs. */
  kill(): Promise<void>;
  output(): string;
}

/** Start a service's real main.ts on a free loopback port and wait for /health. */
export async function startService(
  service: string,
  env: Record<string, string> = {},
): Promise<RunningService> {
  // A given BEACON_PORT is kept (a restart on the same address); otherwise a free one.
  const port = env.BEACON_PORT ? Number(env.BEACON_PORT) : await freePort();
  const proc = Bun.spawn(['bun', `packages/${service}/src/main.ts`], {
    env: { ...Bun.env, BEACON_PORT: String(port), BEACON_LOG_LEVEL: 'warn', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  let output = '';
  for (const stream of [proc.stdout, proc.stderr]) {
    void (async () => {
      const reader = stream.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read())
        output += new TextDecoder().decode(r.value);
    })();
  }
  const url = `http://${env.BEACON_HOST ?? '127.0.0.1'}:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${service} exited with ${proc.exitCode}: ${output}`);
    try {
      if ((await fetch(`${url}/version`)).ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${service} did not start: ${output}`);
    await Bun.sleep(50);
  }
  return {
    url,
    pid: proc.pid,
    output: () => output,
    async stop() {
      proc.kill('SIGTERM');
      await proc.exited;
    },
    async kill() {
      proc.kill('SIGKILL');
      await proc.exited;
    },
  };
}

/** `promtool check metrics` on exposition text: returns its complaints ('' when clean). */
export async function promtoolCheckMetrics(text: string): Promise<{ code: number; output: string }> {
  const { code, output } = await runCommand(['promtool', 'check', 'metrics'], { stdin: text });
  return { code, output: output.trim() };
}
