import { basename } from 'node:path';
import { KERNEL_TOKEN_FILE, type Logger, NATS_CREDS_FILE, PROXY_KEY_FILE } from '@beacon/core';
import { KERNEL_PORT } from '../clients/container-config';
import { type DockerClient, LABELS } from '../clients/docker';
import { fileOwner, type Secrets } from '../clients/secrets';
import { type ContainerSpec, containerName, type SpecDefaults } from '../domain/spec';
import type { PlatformMetrics } from '../metrics';

/**
 * Where containers run unless the operator names a network (BEACON_CONTAINER_NETWORK): one bridge for every
 * platform on the engine, with traffic between its containers off, so tenants cannot reach each other.
 */
export const TENANT_NETWORK = 'beacon-tenants';

/** The ports the platform and the gateway reach a container on: the kernel's, and its health check's. */
const checkedPorts = ({ health }: ContainerSpec) => [
  ...new Set([KERNEL_PORT, ...(typeof health === 'object' ? [health.port] : [])]),
];

/**
 * The variables every agent reads (the OpenAI and Anthropic SDKs, Codex, Claude Code, LangChain), pointing at
 * the proxy with the container's own key: an image that is not Beacon's kernel is charged too. Left out with
 * `aiEnv: false`. A pooled container keeps its key from tenant to tenant: the proxy moves whom it bills.
 */
function aiEnv(
  proxyUrl: string | undefined,
  key: string | undefined,
  spec: ContainerSpec,
): Record<string, string> {
  if (!proxyUrl || !key || spec.aiEnv === false) return {};
  const base = proxyUrl.replace(/\/$/, '');
  return {
    OPENAI_BASE_URL: `${base}/v1`,
    OPENAI_API_KEY: key,
    ANTHROPIC_BASE_URL: base,
    ANTHROPIC_API_KEY: key,
  };
}

export interface ProvisionerDeps {
  docker: DockerClient;
  metrics: PlatformMetrics;
  log: Logger;
  defaults: SpecDefaults;
  /** The platform's own removal of a half-made container: its engine events are not a death. */
  markOwn: (id: string) => void;
  secrets?: Pick<Secrets, 'mount'>;
  /** Non-secret env for every container (where NATS and the proxy are). */
  env?: (handle: string) => Record<string, string>;
  /** A fresh proxy key for the container, delivered as the file PROXY_KEY_FILE (needs `secrets`). */
  mintKey?: (handle: string, owner: string) => Promise<string>;
  /** The container's NATS credentials (its own subjects only), delivered as the file NATS_CREDS_FILE. */
  natsCreds?: (handle: string) => Promise<string>;
}

/**
 * How a container is made, in two steps a recycle can put apart: `build` (its image checked, its proxy key
 * minted, its secret files written, the container created, not started, under `name`) and `launch` (started).
 * `provision` does both for `beacon-<handle>`; a failure removes what was created. Returns the container id.
 */
export function createProvisioner({
  docker,
  metrics,
  log,
  defaults,
  markOwn,
  secrets,
  env,
  mintKey,
  natsCreds,
}: ProvisionerDeps) {
  let networkReady: Promise<void> | undefined;
  /** The tenants' network, made on the first provision (the engine may be away at start). */
  const network = () => {
    networkReady ??= docker.ensureTenantNetwork(TENANT_NETWORK).catch((err) => {
      networkReady = undefined;
      throw err;
    });
    return networkReady;
  };

  async function build(handle: string, owner: string, spec: ContainerSpec, name = containerName(handle)) {
    if (!defaults.network) await network();
    // Asked first: a missing image is a clear 400 before a key is minted or a file written.
    const image = await docker.imageConfig(spec.image);
    const user = fileOwner(image.user);
    const key = mintKey ? await mintKey(handle, owner) : undefined;
    if (key && !secrets) throw new Error('a proxy key needs the secrets writer to reach the container');
    const files: Record<string, string> = key ? { [basename(PROXY_KEY_FILE)]: key } : {};
    // Without the secrets writer (a test's platform) the token goes by env.
    if (spec.kernelToken && secrets) files[basename(KERNEL_TOKEN_FILE)] = spec.kernelToken;
    if (natsCreds && secrets) files[basename(NATS_CREDS_FILE)] = await natsCreds(handle);
    const tokenEnv: Record<string, string> =
      spec.kernelToken && !secrets ? { BEACON_KERNEL_TOKEN: spec.kernelToken } : {};
    const beaconEnv = env?.(handle) ?? {};
    const binds = secrets ? await secrets.mount(handle, { files, user, owner, shared: spec.secrets }) : [];
    return docker.create({
      name,
      image: spec.image,
      ...(spec.command ? { command: spec.command } : {}),
      env: { ...spec.env, ...beaconEnv, ...tokenEnv, ...aiEnv(beaconEnv.BEACON_PROXY_URL, key, spec) },
      labels: {
        [LABELS.handle]: handle,
        [LABELS.owner]: owner,
        ...(spec.pool ? { [LABELS.pool]: spec.pool } : {}),
      },
      memoryBytes: spec.memoryMb * 1024 * 1024,
      nanoCpus: Math.round(spec.cpus * 1e9),
      pidsLimit: spec.pidsLimit ?? defaults.pidsLimit,
      ...(spec.capAdd ? { capAdd: spec.capAdd } : {}),
      // Read-only: the image's working directory stays writable (where an agent keeps its sessions).
      ...(spec.readOnlyRootfs ? { readOnly: { workdir: image.workdir || '/workspace' } } : {}),
      binds,
      network: defaults.network ?? TENANT_NETWORK,
      ...(defaults.publishOn ? { publish: { on: defaults.publishOn, ports: checkedPorts(spec) } } : {}),
    });
  }

  /** A created container started; one that will not start is removed. */
  async function launch(handle: string, owner: string, spec: ContainerSpec, id: string) {
    try {
      await docker.start(id);
    } catch (err) {
      markOwn(id);
      await docker.remove(id).catch(() => {});
      throw err;
    }
    log.info(
      { event: 'container.provisioned', handle, owner, image: spec.image, containerId: id },
      'provisioned',
    );
    return id;
  }

  /** A half-made container's end: removed as the platform's own. */
  async function discard(id: string) {
    markOwn(id);
    await docker.remove(id).catch(() => {});
  }

  return {
    build,
    launch,
    discard,
    async provision(handle: string, owner: string, spec: ContainerSpec): Promise<string> {
      const end = metrics.provisionDuration.startTimer();
      try {
        const id = await launch(handle, owner, spec, await build(handle, owner, spec));
        end({ status: 'ok' });
        return id;
      } catch (err) {
        end({ status: 'error' });
        throw err;
      }
    },
  };
}

export type Provisioner = ReturnType<typeof createProvisioner>;
