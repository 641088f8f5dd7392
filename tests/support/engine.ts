import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A Docker engine of the test's own (its socket, data, exec root, pid file and bridge; no iptables), so a
 * test can stop and start an engine without touching the one other work shares. Its bridge is its own:
 * `--bridge=none` would make dockerd delete the host's docker0, which the shared engine needs.
 */
export async function startEngine() {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-engine-'));
  const socket = join(dir, 'docker.sock');
  const bridge = `bt${Math.random().toString(36).slice(2, 8)}`;
  const address = `10.213.${Math.floor(Math.random() * 250) + 1}.1`;
  for (const cmd of [
    ['ip', 'link', 'add', bridge, 'type', 'bridge'],
    ['ip', 'addr', 'add', `${address}/24`, 'dev', bridge],
    ['ip', 'link', 'set', bridge, 'up'],
  ]) {
    const r = Bun.spawnSync(cmd);
    if (r.exitCode !== 0) throw new Error(`${cmd.join(' ')}: ${r.stderr}`);
  }
  let proc: Bun.Subprocess | undefined;
  const up = async () => {
    proc = Bun.spawn(
      [
        'dockerd',
        `--host=unix://${socket}`,
        `--data-root=${join(dir, 'data')}`,
        `--exec-root=${join(dir, 'exec')}`,
        `--pidfile=${join(dir, 'docker.pid')}`,
        `--bridge=${bridge}`,
        '--iptables=false',
        '--ip6tables=false',
      ],
      { stdout: 'ignore', stderr: 'ignore' },
    );
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await Bun.sleep(200)) {
      try {
        if ((await fetch('http://localhost/_ping', { unix: socket } as RequestInit)).ok) return;
      } catch {}
    }
    throw new Error('the test engine did not start within 30 s');
  };
  const down = async () => {
    proc?.kill('SIGTERM');
    await proc?.exited;
    proc = undefined;
  };
  await up();
  return {
    host: `unix://${socket}`,
    /** This machine's address on the engine's bridge: how its containers reach services here. */
    address,
    start: up,
    stop: down,
    async remove() {
      // The networks it made (the platform's tenants bridge) leave their bridges on this host when it stops:
      // each holds one of the engines' address pools until deleted, and the pools run out (~30).
      const networks = await fetch('http://localhost/networks', { unix: socket } as RequestInit)
        .then((r) => r.json() as Promise<{ Id: string; Name: string }[]>)
        .catch(() => []);
      await down();
      for (const n of networks)
        if (!['bridge', 'host', 'none'].includes(n.Name))
          Bun.spawnSync(['ip', 'link', 'delete', `br-${n.Id.slice(0, 12)}`]);
      Bun.spawnSync(['ip', 'link', 'delete', bridge]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
