import { basename } from 'node:path';
import { type Logger, PROXY_KEY_FILE } from '@beacon/core';
import { type DockerClient, LABELS } from '../clients/docker';
import { fileOwner, type Secrets } from '../clients/secrets';
import { type ContainerSpec, containerName, type SpecDefaults } from '../domain/spec';
import type { PlatformMetrics } from '../metrics';

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
}

/** Create and start `beacon-<handle>`; a failure removes what was created. Returns the container id. */
export function createProvisioner({
  docker,
  metrics,
  log,
  defaults,
  markOwn,
  secrets,
  env,
  mintKey,
}: ProvisionerDeps) {
  return async function provision(handle: string, owner: string, spec: ContainerSpec): Promise<string> {
    const end = metrics.provisionDuration.startTimer();
    let id: string | undefined;
    try {
      // Asked first: a missing image is a clear 400 before a key is minted or a file written.
      const user = fileOwner(await docker.imageUser(spec.image));
      const key = mintKey ? await mintKey(handle, owner) : undefined;
      if (key && !secrets) throw new Error('a proxy key needs the secrets writer to reach the container');
      const files = key ? { [basename(PROXY_KEY_FILE)]: key } : {};
      const binds = secrets ? await secrets.mount(handle, { files, user }) : [];
      id = await docker.create({
        name: containerName(handle),
        image: spec.image,
        ...(spec.command ? { command: spec.command } : {}),
        env: { ...spec.env, ...env?.(handle) },
        labels: {
          [LABELS.handle]: handle,
          [LABELS.owner]: owner,
          ...(spec.pool ? { [LABELS.pool]: spec.pool } : {}),
        },
        memoryBytes: spec.memoryMb * 1024 * 1024,
        nanoCpus: Math.round(spec.cpus * 1e9),
        binds,
        ...(defaults.network ? { network: defaults.network } : {}),
      });
      await docker.start(id);
      end({ status: 'ok' });
      log.info(
        { event: 'container.provisioned', handle, owner, image: spec.image, containerId: id },
        'provisioned',
      );
      return id;
    } catch (err) {
      end({ status: 'error' });
      if (id) {
        markOwn(id);
        await docker.remove(id).catch(() => {});
      }
      throw err;
    }
  };
}

export type Provision = ReturnType<typeof createProvisioner>;
