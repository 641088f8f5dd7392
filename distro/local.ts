/**
 * Beacon on this machine, without compose: `bun run local` starts the proxy, the platform and the gateway (and a
 * stand-in AI provider unless real keys are set), builds the kernel image if the engine lacks it, keeps the admin
 * token, the logs, the data and the PIDs under one folder, and prints how to open the console.
 * `bun run local stop` ends exactly the processes it started; `bun run local status` says which run.
 *
 *   BEACON_LOCAL_DIR (.data/local)  BEACON_PLATFORM_PORT (9000)  BEACON_GATEWAY_PORT (4000)  BEACON_PROXY_PORT (8080)
 *   BEACON_UPSTREAM_PORT (8999, the stand-in provider)
 *   BEACON_KERNEL_IMAGE (beacon-kernel:latest)  BEACON_UPSTREAM_OPENAI_KEY / BEACON_UPSTREAM_ANTHROPIC_KEY (real providers)
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dir, '..');
const dir = resolve(process.env.BEACON_LOCAL_DIR ?? join(root, '.data/local'));
const port = (name: string, fallback: number) => Number(process.env[`BEACON_${name}_PORT`] ?? fallback);
const ports = {
  platform: port('PLATFORM', 9000),
  gateway: port('GATEWAY', 4000),
  proxy: port('PROXY', 8080),
  upstream: port('UPSTREAM', 8999),
};
const image = process.env.BEACON_KERNEL_IMAGE ?? 'beacon-kernel:latest';
const SERVICES = ['upstream', 'proxy', 'platform', 'gateway'] as const;
type Service = (typeof SERVICES)[number];

const pidFile = (s: Service) => join(dir, 'pids', `${s}.pid`);
/** What each process runs: a PID another program took since is not ours. */
const MAIN: Record<Service, string> = {
  upstream: 'tests/support/fake-upstream.ts',
  proxy: 'packages/proxy/src/main.ts',
  platform: 'packages/platform/src/main.ts',
  gateway: 'packages/gateway/src/main.ts',
};
const alive = (pid: number, s?: Service) => {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    // A zombie (ended, not yet reaped) has an empty command line.
    return cmdline !== '' && (!s || cmdline.includes(MAIN[s]));
  } catch {
    return false;
  }
};
const signal = (pid: number, sig: NodeJS.Signals) => {
  try {
    process.kill(pid, sig);
  } catch {}
};
/** The processes this folder's run started and that still run. */
function started(): [Service, number][] {
  return SERVICES.flatMap((s) => {
    if (!existsSync(pidFile(s))) return [];
    const pid = Number(readFileSync(pidFile(s), 'utf8'));
    return pid && alive(pid, s) ? [[s, pid] as [Service, number]] : [];
  });
}

async function run(cmd: string[]) {
  const proc = Bun.spawn(cmd, { cwd: root, stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, out: out.trim(), err: err.trim() };
}

/** Where containers reach the host: the default bridge's gateway address. */
async function bridge(): Promise<string> {
  const { code, out, err } = await run([
    'docker',
    'network',
    'inspect',
    'bridge',
    '--format',
    '{{range .IPAM.Config}}{{.Gateway}}{{end}}',
  ]);
  if (code !== 0 || !out) throw new Error(`the Docker engine does not answer (is dockerd running?): ${err}`);
  return out;
}

/** A background process of its own session (it outlives this command), its output in a log file. */
function launch(s: Service, cmd: string[], env: Record<string, string>) {
  const log = openSync(join(dir, 'logs', `${s}.log`), 'a');
  const child = spawn(cmd[0] as string, cmd.slice(1), {
    cwd: root,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', log, log],
  });
  child.unref();
  writeFileSync(pidFile(s), String(child.pid));
}

async function ready(url: string, s: Service, headers: Record<string, string> = {}) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const res = await fetch(url, { headers }).catch(() => undefined);
    if (res?.ok) return;
    const [, pid] = started().find(([name]) => name === s) ?? [];
    if (!pid) throw new Error(`${s} stopped at start; see ${join(dir, 'logs', `${s}.log`)}`);
    await Bun.sleep(200);
  }
  throw new Error(`${s} did not answer ${url} within 60 s; see ${join(dir, 'logs', `${s}.log`)}`);
}

async function start() {
  const running = started();
  if (running.length) {
    console.log(`already running from ${dir}: ${running.map(([s, pid]) => `${s} (${pid})`).join(', ')}`);
    console.log('stop it first: bun run local stop');
    return;
  }
  for (const sub of ['pids', 'logs', 'proxy', 'platform', 'gateway', 'home'])
    mkdirSync(join(dir, sub), { recursive: true });
  const tokenFile = join(dir, 'admin-token');
  if (!existsSync(tokenFile)) writeFileSync(tokenFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  const token = readFileSync(tokenFile, 'utf8').trim();
  const host = await bridge();

  if ((await run(['docker', 'image', 'inspect', image])).code !== 0) {
    console.log(`building ${image} (the containers' image; once)`);
    const built = await run(['bash', 'distro/images/kernel/build.sh', image]);
    if (built.code !== 0) throw new Error(`the kernel image did not build: ${built.err}`);
  }

  const real = process.env.BEACON_UPSTREAM_OPENAI_KEY || process.env.BEACON_UPSTREAM_ANTHROPIC_KEY;
  const upstream: Record<string, string> = {};
  if (!real) {
    const fakePort = String(ports.upstream);
    launch('upstream', ['bun', MAIN.upstream, fakePort, '0', '20'], {});
    upstream.BEACON_UPSTREAM_OPENAI_URL = `http://127.0.0.1:${fakePort}`;
    upstream.BEACON_UPSTREAM_ANTHROPIC_URL = `http://127.0.0.1:${fakePort}`;
  }
  const common = { BEACON_ADMIN_TOKEN: token, BEACON_LOG_LEVEL: process.env.BEACON_LOG_LEVEL ?? 'info' };
  // The proxy listens on the bridge: the containers' kernels and agents call it there.
  launch('proxy', ['bun', MAIN.proxy], {
    ...common,
    ...upstream,
    BEACON_HOST: host,
    BEACON_PORT: String(ports.proxy),
    BEACON_DATA_DIR: join(dir, 'proxy'),
  });
  const proxyUrl = `http://${host}:${ports.proxy}`;
  await ready(`${proxyUrl}/health/live`, 'proxy');
  launch('platform', ['bun', MAIN.platform], {
    ...common,
    BEACON_HOST: '127.0.0.1',
    BEACON_PORT: String(ports.platform),
    BEACON_DATA_DIR: join(dir, 'platform'),
    BEACON_PROXY_URL: proxyUrl,
    BEACON_DEFAULT_IMAGE: image,
    BEACON_GATEWAY_URL: `http://127.0.0.1:${ports.gateway}`,
  });
  await ready(`http://127.0.0.1:${ports.platform}/health/live`, 'platform');
  launch('gateway', ['bun', MAIN.gateway], {
    ...common,
    BEACON_HOST: '127.0.0.1',
    BEACON_PORT: String(ports.gateway),
    BEACON_DATA_DIR: join(dir, 'gateway'),
    BEACON_HOME: join(dir, 'home'),
    BEACON_PLATFORM_URL: `http://127.0.0.1:${ports.platform}`,
  });
  await ready(`http://127.0.0.1:${ports.gateway}/health/live`, 'gateway');

  console.log(`Beacon runs (data, logs, PIDs and the admin token in ${dir}).

  console   http://localhost:${ports.platform}/admin
            log in with any user name and the admin token as password:
            ${token}
            (also in ${tokenFile}; for curl: -H "authorization: Bearer $(cat ${tokenFile})")
  gateway   http://localhost:${ports.gateway}    proxy ${proxyUrl}${real ? '' : '  (AI provider: a stand-in, tests/support/fake-upstream.ts)'}

  a container and a message:
    curl -H "authorization: Bearer $(cat ${tokenFile})" -H 'content-type: application/json' \\
      -d '{"handle":"alice","owner":"alice"}' localhost:${ports.platform}/api/containers
    curl -H 'content-type: application/json' -d '{"handle":"alice","text":"hello"}' localhost:${ports.gateway}/api/message

  stop: bun run local stop   (the containers stay; DELETE them through the API)`);
}

async function stop() {
  const running = started();
  if (!running.length) console.log(`nothing of ${dir} runs`);
  for (const [s, pid] of running.reverse()) {
    signal(pid, 'SIGTERM');
    const deadline = Date.now() + 15_000;
    while (alive(pid) && Date.now() < deadline) await Bun.sleep(100);
    if (alive(pid)) signal(pid, 'SIGKILL');
    console.log(`stopped ${s} (${pid})`);
  }
  rmSync(join(dir, 'pids'), { recursive: true, force: true });
}

const what = process.argv[2] ?? 'start';
try {
  if (what === 'start') await start();
  else if (what === 'stop') await stop();
  else if (what === 'status') {
    const running = started();
    console.log(
      running.length ? running.map(([s, pid]) => `${s} ${pid}`).join('\n') : `nothing of ${dir} runs`,
    );
  } else {
    console.error(`unknown command '${what}': bun run local [start|stop|status]`);
    process.exit(2);
  }
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  if (what === 'start') await stop();
  process.exit(1);
}
