import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Provider } from '../domain/prices';
import { ERROR_TYPES, providerError } from '../domain/provider-errors';

/** What the proxy charged for a call: a response header, or for streams a final SSE comment. */
export const COST_HEADER = 'x-beacon-cost-usd';

/** An error in the provider's own shape, so its SDKs read it as theirs. */
export const fail = (
  c: Context,
  provider: Provider,
  status: ContentfulStatusCode,
  kind: string,
  message: string,
  headers = {},
) => c.json(providerError(provider, ERROR_TYPES[kind]?.[provider] ?? kind, message), status, headers);
