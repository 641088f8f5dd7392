import { AppError, countRefusal, type Logger } from '@beacon/core';
import type { Context } from 'hono';
import type { Provider } from '../domain/prices';
import type { KeyOwner, KeyStore } from '../keys';
import { fail } from './reply';

function presentedKey(c: Context): string | undefined {
  const auth = c.req.header('authorization');
  if (auth?.toLowerCase().startsWith('bearer ')) return auth.slice(7).trim();
  return c.req.header('x-api-key') ?? undefined;
}

/** A caller's Beacon key (Bearer or x-api-key) checked against the key store; refusals in the provider's shape. */
export function createAuthenticator(keys: Pick<KeyStore, 'verify'>, log: Logger) {
  /** Keys and budgets cannot be checked while the database is away: the call is refused, never let through. */
  const away = (c: Context, provider: Provider, err: unknown) => {
    log.error({ event: 'proxy.database_unavailable', err: String(err) }, 'call refused: its store is away');
    const message = 'the proxy cannot check keys and budgets right now; retry shortly';
    return fail(c, provider, 503, 'unavailable', message, { 'retry-after': '5' });
  };

  /** A refused key: counted against its source, which is slowed past the limit (a right key always passes). */
  function refuse(c: Context, provider: Provider, message: string) {
    try {
      countRefusal(c);
    } catch (err) {
      if (err instanceof AppError) return fail(c, provider, 429, 'rate_limited', err.message, err.headers);
      throw err;
    }
    return fail(c, provider, 401, 'unauthorized', message);
  }

  async function authenticate(c: Context, provider: Provider): Promise<KeyOwner | Response> {
    const key = presentedKey(c);
    if (!key) return refuse(c, provider, 'missing API key: send Authorization: Bearer or x-api-key');
    const owner = await keys.verify(key).catch((err: unknown) => away(c, provider, err));
    if (owner instanceof Response) return owner;
    return owner ?? refuse(c, provider, 'unknown or revoked API key');
  }

  return { authenticate, away };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
