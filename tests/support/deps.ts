/**
 * Integration tests need real servers and tools. On a laptop without one, its tests skip;
 * under CI (CI=true) a missing dependency is a failure, never a skip.
 */
export function hasTool(name: string): boolean {
  const found = Bun.which(name) !== null;
  if (!found && Bun.env.CI === 'true') throw new Error(`${name} is required under CI but not installed`);
  return found;
}

export async function hasDocker(): Promise<boolean> {
  try {
    const res = await fetch('http://localhost/_ping', { unix: '/var/run/docker.sock' } as RequestInit);
    if (res.ok) return true;
  } catch {}
  if (Bun.env.CI === 'true')
    throw new Error('a Docker engine is required under CI but /var/run/docker.sock does not answer');
  return false;
}
