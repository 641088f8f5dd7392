import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelInbox } from '@beacon/core';
import { connect, credsAuthenticator } from 'nats';
import { runCommand } from '../support/command';
import { hasDocker, hasTool } from '../support/deps';
import { docker } from '../support/docker';
import { startFakeUpstream } from '../support/fake-upstream';
import { post } from '../support/http';
import { freePort } from '../support/ports';
import { sseClient } from '../support/sse';
import { eventually } from '../support/wait';

/**
 * The real compose files, as an operator runs them, on this machine's engine with no registry: the
 * service and kernel images from their Dockerfiles on a locally assembled base; NATS, Prometheus and
 * Alertmanager assembled from Debian's packages under the names compose pins; s3rver standing in for
 * MinIO. Grafana, Loki and Alloy are not started (their images are not obtainable here). The override
 * only shortens timings (scrapes, rule `for:`, health-check intervals) and points the proxy at a fake
 * upstream in this process.
 */
const available = (await hasDocker()) && hasTool('docker-compose') && hasTool('busybox');
const id = Math.random().toString(36).slice(2, 7);
const project = `beaconstack${id}`;
const work = join(tmpdir(), `beacon-stack-${id}`);
const token = `stack-admin-${id}-0123456789`;
const BASE = 'beacon-base:stack-test';
const KERNEL = 'beacon-kernel:stack-test';
const SERVICES = ['nats', 'minio', 'proxy', 'platform', 'gateway', 'prometheus', 'alertmanager'];
const compose = ['docker-compose', '-p', project, '-f', 'distro/docker-compose.platform.yml'];
compose.push('-f', 'distro/observability/docker-compose.observability.yml', '-f', join(work, 'override.yml'));

async function must(cmd: string[], env: Record<string, string> = {}) {
  const { code, output } = await runCommand(cmd, { env });
  if (code !== 0) throw new Error(`${cmd.join(' ')} exited ${code}:\n${output.slice(-3000)}`);
  return output;
}

/** The image compose pins, made from a Debian package when this engine does not have it. */
async function assembled(
  tag: string,
  binary: string,
  name: string,
  data: string,
  uid: number,
  ...extra: string[]
) {
  if (
    await docker
      .getImage(tag)
      .inspect()
      .catch(() => undefined)
  )
    return;
  await must(['bash', 'tests/stack/assemble.sh', tag, binary, name, data, String(uid), ...extra]);
}

const fake = startFakeUpstream({ chunks: 2, hostname: '0.0.0.0' });
/** The users' containers' bridge, as `bun run stack` makes it (a subnet of its own for this run). */
const kernelNetwork = `${project}-kernels`;
const subnet = `172.31.${100 + Math.floor(Math.random() * 150)}`;
const tenantGateway = `${subnet}.1`;
let env: Record<string, string> = {};
let ports: Record<string, number> = {};

async function api(service: 'gateway' | 'platform' | 'prometheus', path: string, init: RequestInit = {}) {
  const headers = { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) };
  return fetch(`http://127.0.0.1:${ports[service]}${path}`, { ...init, headers });
}

/** POST /api/containers as an operator would; answers once the kernel serves. */
async function provision(handle: string, owner: string) {
  const created = await api('platform', '/api/containers', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ handle, owner }),
  });
  expect(created.status).toBe(201);
}

/** Run a command in a service's container (the proxy is not published). */
async function inService(service: string, cmd: string[]) {
  const [c] = await docker.listContainers({
    filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`] },
  });
  if (!c) throw new Error(`no ${service} container`);
  return must(['docker', 'exec', c.Id, ...cmd]);
}

describe.skipIf(!available)('the compose stack, built offline and run as an operator would', () => {
  beforeAll(async () => {
    mkdirSync(work, { recursive: true });
    await must(['bash', 'distro/images/base/build.sh', BASE]);
    await assembled('nats:2.10.29-alpine', '/usr/sbin/nats-server', 'nats-server', '/data', 0);
    // Debian's Prometheus keeps its data under /var/lib/prometheus/metrics2; the image's volume is /prometheus.
    await assembled(
      'prom/prometheus:v3.5.0',
      '/usr/bin/prometheus',
      'prometheus',
      '/prometheus',
      65534,
      'link:/var/lib/prometheus/metrics2=/prometheus',
    );
    await assembled(
      'prom/alertmanager:v0.28.1',
      '/usr/bin/prometheus-alertmanager',
      'alertmanager',
      '/alertmanager',
      65534,
      'copy:/usr/share/prometheus/alertmanager',
    );
    await must([
      'docker',
      'build',
      '-q',
      '--build-arg',
      `BASE=${BASE}`,
      '-t',
      `beacon-s3-standin:${id}`,
      'tests/stack/s3-standin',
    ]);
    await must([
      'docker',
      'build',
      '-q',
      '-f',
      'distro/images/kernel/Dockerfile',
      '--build-arg',
      `BUILD_BASE=${BASE}`,
      '--build-arg',
      `BASE=${BASE}`,
      '-t',
      KERNEL,
      '.',
    ]);

    // Timings shortened, so the alert path is seen in a minute; nothing else differs from the shipped files.
    const prometheus = readFileSync('distro/observability/prometheus.yml', 'utf8')
      .replace(/scrape_interval: 15s/, 'scrape_interval: 2s')
      .replace(/evaluation_interval: 15s/, 'evaluation_interval: 2s');
    const rules = readFileSync('distro/observability/alerting/rules.yml', 'utf8').replace(
      /for: \w+/g,
      'for: 0s',
    );
    mkdirSync(join(work, 'alerting'), { recursive: true });
    writeFileSync(join(work, 'prometheus.yml'), prometheus);
    writeFileSync(join(work, 'alerting/rules.yml'), rules);
    writeFileSync(join(work, 'alert-token'), `stack-alert-${id}-0123456789`);
    // What `bun run stack` writes: the services' /metrics token for Prometheus (no own one: the admin token).
    writeFileSync(join(work, 'metrics-token'), token);
    // And NATS's accounts (gateway.creds readable by the gateway's user), and the kernels' bridge.
    await must(['bun', 'run', 'nats-auth', join(work, 'nats')]);
    await must(['chmod', '644', join(work, 'nats/nats.conf'), join(work, 'nats/gateway.creds')]);
    await docker.createNetwork({
      Name: kernelNetwork,
      Driver: 'bridge',
      Options: { 'com.docker.network.bridge.enable_icc': 'false' },
      IPAM: { Config: [{ Subnet: `${subnet}.0/24`, Gateway: tenantGateway }] },
    });
    const fast = '    healthcheck: { interval: 2s, start_period: 0s }\n';
    writeFileSync(
      join(work, 'override.yml'),
      `# The compose test's changes: timings, the fake upstream, MinIO's stand-in.
services:
  minio:
    image: beacon-s3-standin:${id}
${fast}  nats:
${fast}  proxy:
    extra_hosts: ["host.docker.internal:host-gateway"]
${fast}  platform:
${fast}  gateway:
${fast}  prometheus:
    volumes:
      - ${join(work, 'prometheus.yml')}:/etc/prometheus/prometheus.yml:ro
      - ${join(work, 'alerting')}:/etc/prometheus/alerting:ro
${fast}  alertmanager:
${fast}`,
    );
    ports = {
      gateway: await freePort(),
      platform: await freePort(),
      prometheus: await freePort(),
      alertmanager: await freePort(),
    };
    env = {
      BEACON_ADMIN_TOKEN: token,
      BEACON_ALERT_TOKEN: `stack-alert-${id}-0123456789`,
      BEACON_ALERT_TOKEN_FILE: join(work, 'alert-token'),
      BEACON_METRICS_TOKEN_FILE: join(work, 'metrics-token'),
      BEACON_S3_SECRET_KEY: `s3-${id}-secret`,
      BEACON_POSTGRES_PASSWORD: 'unused-here',
      GRAFANA_ADMIN_PASSWORD: 'unused-here',
      BEACON_SERVICE_BASE: BASE,
      BEACON_IMAGE_PREFIX: 'beacon-stacktest',
      BEACON_KERNEL_IMAGE: KERNEL,
      BEACON_INSTANCE: project,
      BEACON_NETWORK: project,
      BEACON_KERNEL_NETWORK: kernelNetwork,
      BEACON_TENANT_GATEWAY: tenantGateway,
      BEACON_NATS_AUTH_DIR: join(work, 'nats'),
      BEACON_SECRETS_RUNTIME_DIR: `/dev/shm/${project}`,
      BEACON_STATS_INTERVAL: '2',
      // A killed container stays down long enough for ContainerDown to fire.
      BEACON_RESTART_BACKOFF: '300',
      BEACON_UPSTREAM_OPENAI_URL: `http://host.docker.internal:${fake.port}`,
      BEACON_GATEWAY_PORT: String(ports.gateway),
      BEACON_PLATFORM_PORT: String(ports.platform),
      BEACON_PROMETHEUS_PORT: String(ports.prometheus),
      BEACON_ALERTMANAGER_PORT: String(ports.alertmanager),
    };
    await must([...compose, 'up', '-d', '--build', ...SERVICES], env);
    // Building every image from scratch (a fresh clone, a changed packages/ layer) takes most of a minute.
  }, 300_000);

  afterAll(async () => {
    await runCommand([...compose, 'down', '-v', '--remove-orphans'], { env });
    const ours = await docker.listContainers({
      all: true,
      filters: { label: [`beacon.instance=${project}`] },
    });
    await Promise.all(
      ours.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {}),
      ),
    );
    for (const network of [project, kernelNetwork])
      await docker
        .getNetwork(network)
        .remove()
        .catch(() => {});
    await docker
      .getImage(`beacon-s3-standin:${id}`)
      .remove()
      .catch(() => {});
    rmSync(`/dev/shm/${project}`, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
    fake.stop();
    // Its own timeout: Bun's 5 s for a hook would leave the containers, network and volumes behind.
  }, 120_000);

  test('every service is healthy and Prometheus scrapes the three services', async () => {
    await eventually(async () => {
      const states = await Promise.all(
        SERVICES.map(async (service) => {
          const [c] = await docker.listContainers({
            filters: {
              label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`],
            },
          });
          return c?.Status.includes('(healthy)');
        }),
      );
      return states.every(Boolean);
    }, 120_000);
    const up = await eventually(async () => {
      const res = await api('prometheus', '/api/v1/targets');
      const { data } = (await res.json()) as {
        data: { activeTargets: { labels: { job: string }; health: string }[] };
      };
      const healthy = data.activeTargets.filter((t) => t.health === 'up').map((t) => t.labels.job);
      return ['gateway', 'platform', 'proxy'].every((job) => healthy.includes(job)) && healthy;
    }, 30_000);
    expect(up).toEqual(expect.arrayContaining(['gateway', 'platform', 'proxy']));
    // The services run as uid 1000 and can write the named volumes compose created for them.
    const writable = 'id -u; for d in "$@"; do test -w "$d" && echo "$d writable"; done';
    expect(
      await inService('gateway', [
        'sh',
        '-c',
        writable,
        'sh',
        '/var/lib/beacon/gateway',
        '/var/lib/beacon/home',
      ]),
    ).toBe('1000\n/var/lib/beacon/gateway writable\n/var/lib/beacon/home writable\n');
    expect(await inService('proxy', ['sh', '-c', writable, 'sh', '/var/lib/beacon/proxy'])).toBe(
      '1000\n/var/lib/beacon/proxy writable\n',
    );
  }, 180_000);

  test('a provisioned container shows in Prometheus; its message over NATS is billed to its owner', async () => {
    const handle = `${project}-alice`;
    await provision(handle, 'alice');
    // The container's user reads its key file; its agents read the same key from the standard variables.
    const info = await docker.getContainer(`beacon-${handle}`).inspect();
    expect(info.Config.User).toBe('1000:1000');
    const key = (await must(['docker', 'exec', info.Id, 'cat', '/run/beacon/proxy-key'])).trim();
    expect(key).toStartWith('bk_');
    expect(info.Config.Env).toContain(`OPENAI_API_KEY=${key}`);
    expect(info.Config.Env).toContain(`OPENAI_BASE_URL=http://${tenantGateway}:8080/v1`);

    const seen = await eventually(async () => {
      const q = encodeURIComponent(`platform_container_up{handle="${handle}"}`);
      const { data } = await (await api('prometheus', `/api/v1/query?query=${q}`)).json();
      return data.result[0]?.value?.[1] === '1';
    }, 30_000);
    expect(seen).toBe(true);

    const res = await post(`http://127.0.0.1:${ports.gateway}/api/message`, { handle, text: 'hello' });
    const body = await res.json();
    expect(res.status).toBe(200);
    expect(body.status).toBe('ok');
    const usage = JSON.parse(
      await inService('proxy', [
        'bun',
        '-e',
        `fetch('http://127.0.0.1:8080/api/usage?groupBy=handle&user=alice',{headers:{authorization:'Bearer ${token}'}}).then(r=>r.text()).then(t=>console.log(t))`,
      ]),
    );
    expect(usage.rows).toEqual([expect.objectContaining({ handle, calls: 1 })]);
    expect(fake.calls.length).toBeGreaterThanOrEqual(1);
  }, 120_000);

  test("from inside one tenant's container: another's kernel, NATS subjects and the services are out of reach", async () => {
    const alice = `${project}-alice`;
    const mallory = `${project}-mallory`;
    await provision(mallory, 'mallory');
    const ipOf = async (handle: string) =>
      (await docker.getContainer(`beacon-${handle}`).inspect()).NetworkSettings.Networks[kernelNetwork]
        ?.IPAddress;
    const aliceIp = await ipOf(alice);
    expect(aliceIp).toStartWith(subnet);
    // What mallory's container reaches over TCP (its kernel image has Bun).
    const reach = (url: string, method = 'GET') =>
      must([
        'docker',
        'exec',
        `beacon-${mallory}`,
        'bun',
        '-e',
        `fetch(${JSON.stringify(url)},{method:'${method}',signal:AbortSignal.timeout(3000)}).then(r=>console.log(r.status),()=>console.log('unreachable'))`,
      ]).then((out) => out.trim());
    // Alice's kernel is published on the bridge's gateway for the platform: there it asks for its token.
    const detail = await (await api('platform', `/api/containers/${alice}`)).json();
    expect(detail.docker.address).toStartWith(`${tenantGateway}:`);
    expect(await reach(`http://${detail.docker.address}/v1/dispatch`, 'POST')).toBe('401');
    expect(await reach(`http://${aliceIp}:7681/health`)).toBe('unreachable');
    expect(await reach('http://platform:9000/health')).toBe('unreachable');
    expect(await reach('http://minio:9000/')).toBe('unreachable');
    expect(await reach(`http://${tenantGateway}:8080/metrics`)).toBe('401');
    expect(await reach(`http://${tenantGateway}:8080/health`)).toBe('200');

    // NATS with the credentials the platform gave mallory: alice's subjects bring nothing, and send nothing.
    const creds = await must(['docker', 'exec', `beacon-${mallory}`, 'cat', '/run/beacon/nats.creds']);
    const nc = await connect({
      servers: `nats://${tenantGateway}:4222`,
      authenticator: credsAuthenticator(new TextEncoder().encode(creds)),
      inboxPrefix: kernelInbox(mallory),
    });
    try {
      const got: string[] = [];
      for (const pattern of ['beacon.>', `beacon.${alice}.commands`]) {
        const sub = nc.subscribe(pattern);
        void (async () => {
          try {
            for await (const m of sub) got.push(m.subject);
          } catch {}
        })();
      }
      nc.publish(
        `beacon.${alice}.commands`,
        JSON.stringify({ taskId: 'forged', traceId: 't', text: 'rm -rf', source: 'api' }),
      );
      await nc.flush().catch(() => {});
      const res = await post(`http://127.0.0.1:${ports.gateway}/api/message`, {
        handle: alice,
        text: 'private',
      });
      expect(res.status).toBe(200);
      await Bun.sleep(300);
      expect(got).toEqual([]);
    } finally {
      await nc.close();
    }

    // A fork bomb in mallory's container stops at its PIDs limit; alice still answers.
    const bombed = await must([
      'docker',
      'exec',
      `beacon-${mallory}`,
      'sh',
      '-c',
      'for i in $(seq 700); do (sleep 20 &) 2>/dev/null || { echo stopped at $i; exit 0; }; done; echo not stopped',
    ]);
    expect(bombed).toMatch(/stopped at \d+/);
    const after = await post(`http://127.0.0.1:${ports.gateway}/api/message`, {
      handle: alice,
      text: 'still there?',
    });
    expect(after.status).toBe(200);
    // More memory than the host has is refused before Docker sees it.
    const big = await api('platform', '/api/containers', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ handle: `${project}-big`, memoryMb: 1_048_576 }),
    });
    expect(big.status).toBe(400);
    expect((await big.json()).error.message).toContain('BEACON_MAX_MEMORY_MB');
  }, 120_000);

  test('a container whose process is killed fires an alert: Prometheus → Alertmanager → gateway SSE', async () => {
    const handle = `${project}-bob`;
    await provision(handle, 'bob');
    const events = await sseClient(`http://127.0.0.1:${ports.gateway}/api/events`);
    try {
      await docker.getContainer(`beacon-${handle}`).kill();
      const firing = await events.waitFor(
        (e) => e.event === 'alert.firing' && e.data.includes('ContainerDown') && e.data.includes(handle),
        90_000,
      );
      expect(JSON.parse(firing.data)).toMatchObject({ alertname: 'ContainerDown', status: 'firing' });
      const died = events.events.find((e) => e.event === 'container.died' && e.data.includes(handle));
      expect(died).toBeDefined();
    } finally {
      events.close();
    }
  }, 120_000);
});
