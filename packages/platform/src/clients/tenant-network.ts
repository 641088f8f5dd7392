import type Docker from 'dockerode';

/**
 * A bridge network made once and kept: traffic between its containers off (they still reach the host — the
 * proxy, NATS — and beyond). Another platform on the engine making it first is as good.
 */
export async function ensureNetwork(docker: Docker, name: string, managedLabel: string) {
  const missing = (err: { statusCode?: number }) => {
    if (err.statusCode === 404) return undefined;
    throw err;
  };
  if (await docker.getNetwork(name).inspect().catch(missing)) return;
  await docker
    .createNetwork({
      Name: name,
      Driver: 'bridge',
      Options: { 'com.docker.network.bridge.enable_icc': 'false' },
      Labels: { [managedLabel]: 'true' },
    })
    .catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 409) throw err;
    });
}
