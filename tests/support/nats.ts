import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';

/**
 * A real nats-server with JetStream on a free port of `host` (loopback unless containers must reach it);
 * restartable on the same port and store; `config`: a configuration file (e.g. Beacon's JWT accounts).
 */
export async function startNats(host = '127.0.0.1', { config }: { config?: string } = {}) {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'beacon-nats-'));
  let proc: ReturnType<typeof Bun.spawn> | undefined;

  const up = async () => {
    const args = ['-js', '-a', host, '-p', String(port), '-sd', storeDir, ...(config ? ['-c', config] : [])];
    proc = Bun.spawn(['nats-server', ...args], {
      stdout: 'ignore',
      stderr: 'ignore',
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const socket = await Bun.connect({ hostname: host, port, socket: { data() {} } });
        socket.end();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error('nats-server did not start');
        await Bun.sleep(50);
      }
    }
  };
  const down = async () => {
    proc?.kill();
    await proc?.exited;
  };
  await up();
  return {
    url: `nats://${host}:${port}`,
    /** The running server's process id (0 while stopped). */
    get pid() {
      return proc?.pid ?? 0;
    },
    stop: down,
    restart: up,
    async dispose() {
      await down();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
