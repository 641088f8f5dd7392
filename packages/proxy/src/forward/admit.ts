import type { Context } from 'hono';
import type { UpstreamClient } from '../clients/upstream';
import { APIS, type Api } from '../domain/apis';
import { type ParsedCall, parseCall } from '../domain/budget';
import type { KeyOwner } from '../keys';
import type { ResponseOwners } from '../response-owners';
import type { Authenticator } from './authenticate';
import { fail } from './reply';

export interface Admitted {
  owner: KeyOwner;
  /** The caller's body as parsed (for Langfuse's input). */
  json: Record<string, unknown>;
  parsed: ParsedCall;
  /** The upstreams to try, in order. */
  upstreams: string[];
}

/** OpenAI's own words for an id that is not there: a response of another user is not there either. */
export const noResponse = (c: Context, id: string) =>
  fail(c, 'openai', 404, 'not_found', `No response found with id '${id}'.`);

/**
 * Whether a call may go on, before any money is reserved: the caller's key, a JSON body of the API's shape,
 * the responses and conversations it continues being the caller's own, and an upstream routed for its model.
 */
export function createAdmission(
  { authenticate, away }: Authenticator,
  owners: ResponseOwners,
  upstream: Pick<UpstreamClient, 'candidates'>,
) {
  return async function admit(c: Context, api: Api): Promise<Admitted | Response> {
    const kind = APIS[api].kind;
    const owner = await authenticate(c, kind);
    if (owner instanceof Response) return owner;
    let json: unknown;
    try {
      json = await c.req.json();
    } catch {
      return fail(c, kind, 400, 'bad_request', 'body: invalid JSON');
    }
    const parsed = parseCall(api, json);
    if (typeof parsed === 'string') return fail(c, kind, 400, 'bad_request', parsed);
    let upstreams = upstream.candidates(parsed.model, kind);
    for (const id of parsed.continues) {
      const stored = await owners.of(id, owner.user).catch((err: unknown) => away(c, kind, err));
      if (stored instanceof Response) return stored;
      if (!stored) return noResponse(c, id);
      // A continued response lives with the upstream that made it.
      upstreams = [stored.upstream];
    }
    if (upstreams.length === 0)
      return fail(c, kind, 404, 'not_found', `no upstream serves model ${parsed.model} (BEACON_ROUTES_FILE)`);
    return { owner, json: json as Record<string, unknown>, parsed, upstreams };
  };
}
