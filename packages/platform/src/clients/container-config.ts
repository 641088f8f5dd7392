import type { ContainerDetail, ProvisionRequest } from './docker';

/** The kernel's HTTP port in every Beacon container. */
export const KERNEL_PORT = 7681;

/**
 * A provision request as the engine's create takes it (beside name, image, command, env and labels): hardened by
 * default — no capability, no privilege gained through setuid, a bounded process count — and what the request
 * adds: capabilities the operator allowed, a read-only image, ports published on a host address, binds.
 */
export function containerConfig(req: ProvisionRequest) {
  const ports = [KERNEL_PORT, ...(req.publish?.ports ?? [])];
  return {
    ExposedPorts: Object.fromEntries(ports.map((p) => [`${p}/tcp`, {}])),
    HostConfig: {
      Memory: req.memoryBytes,
      NanoCpus: req.nanoCpus,
      RestartPolicy: { Name: 'no' },
      CapDrop: ['ALL'],
      ...(req.capAdd?.length ? { CapAdd: req.capAdd } : {}),
      ...(req.readOnly
        ? {
            ReadonlyRootfs: true,
            Tmpfs: { '/tmp': 'rw,nosuid,nodev,mode=1777,size=268435456' },
            Mounts: [{ Type: 'volume' as const, Source: '', Target: req.readOnly.workdir }],
          }
        : {}),
      SecurityOpt: ['no-new-privileges:true'],
      PidsLimit: req.pidsLimit,
      ...(req.binds?.length ? { Binds: req.binds } : {}),
      ...(req.network ? { NetworkMode: req.network } : {}),
      ...(req.publish
        ? {
            PortBindings: Object.fromEntries(
              req.publish.ports.map((p) => [`${p}/tcp`, [{ HostIp: req.publish?.on, HostPort: '' }]]),
            ),
          }
        : {}),
    },
  };
}

/** Where a container's port is reached: its published address, else its own address on its network. */
export const addressOf = (detail: Pick<ContainerDetail, 'ip' | 'published'>, port: number) =>
  detail.published?.[port] ?? (detail.ip ? `${detail.ip}:${port}` : undefined);

/** The engine's port bindings of a container → container port: "host ip:host port". */
export function publishedPorts(
  ports: Record<string, { HostIp: string; HostPort: string }[] | null> | undefined,
) {
  const found = Object.entries(ports ?? {}).flatMap(([key, bindings]) => {
    const binding = bindings?.[0];
    return binding?.HostPort
      ? [[Number.parseInt(key, 10), `${binding.HostIp}:${binding.HostPort}`] as const]
      : [];
  });
  return found.length ? Object.fromEntries(found) : undefined;
}
