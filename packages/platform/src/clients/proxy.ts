import { AppError } from '@beacon/core';

/** Mints the key a container's kernel uses, so its AI calls are charged to the container's owner. */
export async function mintProxyKey(
  proxyUrl: string,
  adminToken: string | undefined,
  user: string,
  handle: string,
) {
  let res: Response;
  try {
    res = await fetch(`${proxyUrl.replace(/\/$/, '')}/api/keys`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(adminToken ? { authorization: `Bearer ${adminToken}` } : {}),
      },
      body: JSON.stringify({ user, handle }),
      signal: AbortSignal.timeout(5000),
    });
  } catch (err) {
    throw new AppError('unavailable', `proxy unreachable at ${proxyUrl} while minting a key: ${String(err)}`);
  }
  if (res.status !== 201) throw new AppError('unavailable', `proxy refused to mint a key (${res.status})`);
  return ((await res.json()) as { key: string }).key;
}
