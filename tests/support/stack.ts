import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { docker } from './docker';
import { type FakeUpstreamOptions, startFakeUpstream } from './fake-upstream';
import { post } from './http';
import { startNats } from './nats';
import { startService } from './service';
import { eventually } from './wait';

export const STACK_TOKEN = 'e2e-admin-token-0123456789';
export const stackAuth = { authorization: `Bearer ${STACK_TOKEN}` };

/** The kernel image from this checkout, as `beacon-kernel:e2e` (built once per machine by its script). */
export const KERNEL_IMAGE = 'beacon-kernel:e2e';
export async function buildKernelImage() {
  const proc = Bun.spawn(['bash', 'distro/images/kernel/build.sh', 'beacon-kernel:e2e'], {
    stdout: 'pipe',
    stderr: 'pipe',
  });
  if ((await proc.exited) !== 0) throw new Error(`kernel image: ${await new Response(proc.stderr).text()}`);
}

/**
 * The address containers use to reach services on this host: the default bridge's gateway, which the
 * engine gives the subnet's first address when none is configured.
 */
export async function bridgeAddress(): Promise<string> {
  const config = (await docker.getNetwork('bridge').inspect()).IPAM?.Config?.[0];
  if (config?.Gateway) return config.Gateway;
  const subnet = config?.Subnet?.match(/^(\d+)\.(\d+)\.(\d+)\.(\d+)\//);
  if (!subnet) throw new Error('the default bridge network has no IPv4 subnet');
  return `${subnet[1]}.${subnet[2]}.${subnet[3]}.${Number(subnet[4]) + 1}`;
}

/**
 * The whole of Beacon on this machine: NATS and the proxy on the Docker bridge (containers reach them),
 * the platform with the kernel image built from this checkout, a gateway on NATS and one on HTTP, and
 * the fake upstream in this process.
 */
export async function startStack(
  work: string,
  {
    pools = [],
    env = {},
    fake: fakeOptions = {},
  }: {
    pools?: unknown[];
    /** Given to every service (e.g. where traces and logs go). */
    env?: Record<string, string>;
    /** How the stand-in provider answers. */
    fake?: FakeUpstreamOptions;
  } = {},
) {
  mkdirSync(work, { recursive: true });
  await buildKernelImage();
  const host = await bridgeAddress();
  // NATS with Beacon's accounts, as `bun run nats-auth` writes them: each kernel gets credentials of its own.
  const auth = join(work, 'nats-auth');
  const written = Bun.spawnSync(['bun', 'run', 'nats-auth', auth], { stdout: 'pipe', stderr: 'pipe' });
  if (written.exitCode !== 0) throw new Error(`nats-auth: ${written.stderr.toString()}`);
  const nats = await startNats(host, { config: join(auth, 'nats.conf') });
  const fake = startFakeUpstream({ chunks: 3, ...fakeOptions });
  const proxyData = join(work, 'proxy');
  const home = join(work, 'home');
  // Info level, as in production: the e2e test follows one trace id through every service's log lines.
  const proxy = await startService('proxy', {
    ...env,
    BEACON_LOG_LEVEL: 'info',
    BEACON_HOST: host,
    BEACON_ADMIN_TOKEN: STACK_TOKEN,
    BEACON_DATA_DIR: proxyData,
    BEACON_UPSTREAM_OPENAI_URL: fake.url,
    BEACON_UPSTREAM_ANTHROPIC_URL: fake.url,
  });
  const platform = await startService('platform', {
    ...env,
    BEACON_ADMIN_TOKEN: STACK_TOKEN,
    BEACON_DATA_DIR: join(work, 'platform'),
    BEACON_NATS_URL: nats.url,
    BEACON_NATS_AUTH_DIR: auth,
    BEACON_NATS_CREDS: join(auth, 'platform.creds'),
    BEACON_PROXY_URL: proxy.url,
    BEACON_DEFAULT_IMAGE: 'beacon-kernel:e2e',
    BEACON_SECRETS_RUNTIME_DIR: join(work, 'secrets'),
    BEACON_POOLS: JSON.stringify(pools),
  });
  const gatewayEnv = {
    ...env,
    BEACON_LOG_LEVEL: 'info',
    BEACON_ADMIN_TOKEN: STACK_TOKEN,
    BEACON_PLATFORM_URL: platform.url,
    BEACON_HOME: home,
    BEACON_DISPATCH_TIMEOUT: '20',
  };
  const gateway = await startService('gateway', {
    ...gatewayEnv,
    BEACON_NATS_URL: nats.url,
    BEACON_NATS_CREDS: join(auth, 'gateway.creds'),
  });
  const httpGateway = await startService('gateway', gatewayEnv);
  return {
    nats,
    fake,
    proxy,
    platform,
    gateway,
    httpGateway,
    home,
    proxyData,
    /** Create a kernel container and wait until it is healthy (HTTP up, NATS subscription live). */
    async provision(handle: string, owner: string, spec: Record<string, unknown> = {}) {
      const created = await post(
        `${platform.url}/api/containers`,
        { handle, owner, memoryMb: 256, ...spec },
        stackAuth,
      );
      if (created.status !== 201)
        throw new Error(`provision ${handle}: ${created.status} ${await created.text()}`);
      await this.healthy(handle);
    },
    /** Wait until a kernel container answers healthy (HTTP up, NATS subscription live). */
    async healthy(handle: string) {
      await eventually(async () => {
        const c = await (
          await fetch(`${platform.url}/api/containers/${handle}`, { headers: stackAuth })
        ).json();
        const ip = c.docker?.ip;
        if (!ip) return false;
        const h = await fetch(`http://${ip}:7681/health`).catch(() => undefined);
        return h?.ok && (await h.json()).status === 'healthy';
      }, 20_000).catch(async (err) => {
        const logs = await docker
          .getContainer(`beacon-${handle}`)
          .logs({ stdout: true, stderr: true, tail: 20 });
        throw new Error(`kernel not healthy: ${err}\n${logs.toString()}`);
      });
    },
    async stop() {
      for (const s of [gateway, httpGateway, platform, proxy]) await s.stop();
      fake.stop();
      await nats.dispose();
    },
  };
}

export type Stack = Awaited<ReturnType<typeof startStack>>;
