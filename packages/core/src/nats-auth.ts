import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createAccount,
  createOperator,
  createUser,
  encodeAccount,
  encodeOperator,
  encodeUser,
  fmtCreds,
  fromSeed,
  type Permissions,
} from '@nats-io/jwt';
import { busKinds, streams, subjects } from './contracts';

/**
 * NATS identities in nats-server's decentralized JWT mode: Beacon holds an operator, a system account and the
 * account its services and kernels share, and signs a user JWT per identity. The server's configuration
 * (operator + the two accounts, preloaded) is written once and never changes per container: a kernel's
 * credentials are a user JWT the platform signs with the account key, carrying that kernel's permissions.
 */
const AUTHORITY_FILE = 'authority.json';

/** A kernel's connection reads replies (JetStream acks, API answers) on this prefix, not the shared `_INBOX`. */
export const kernelInbox = (handle: string) => `_INBOX_${handle}`;

/**
 * A kernel's bus with the credentials Beacon gave it: replies on its own inbox (the only one they may read),
 * and no stream managed (they may not; the gateway makes them).
 */
export const kernelBusAuth = (handle: string, credentials: () => string) => ({
  credentials,
  inboxPrefix: kernelInbox(handle),
  manageStreams: false,
});

/**
 * What a kernel may do on the bus: read its own commands (core subject and its durable consumer of the
 * commands stream, made with its own filter) and answer on its own subjects; nothing of another handle's, and
 * no stream managed.
 */
export function kernelPermissions(handle: string): Permissions {
  const commands = streams.commands.name;
  const durable = `kernel-${handle}`;
  return {
    pub: {
      allow: [
        ...busKinds.map((kind) => subjects.kernel(handle, kind)),
        '$JS.API.INFO',
        `$JS.API.CONSUMER.INFO.${commands}.${durable}`,
        // The create subject names the filter, and the server checks the consumer's filter against it.
        `$JS.API.CONSUMER.CREATE.${commands}.${durable}.${subjects.commands(handle)}`,
        `$JS.API.CONSUMER.MSG.NEXT.${commands}.${durable}`,
        `$JS.ACK.${commands}.${durable}.>`,
      ],
    },
    sub: { allow: [subjects.commands(handle), `${kernelInbox(handle)}.>`] },
  };
}

interface Seeds {
  operator: string;
  system: string;
  account: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Everything the services' accounts may hold: JetStream on, nothing capped. */
const UNLIMITED = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
  mem_storage: -1,
  disk_storage: -1,
  streams: -1,
  consumer: -1,
};

/**
 * The authority in `dir` (made on first use: authority.json, 0600, holds the seeds). A kernel's credentials
 * expire after `kernelTtlSeconds`: the platform renews the file of every container it runs, so those of a
 * container that is gone die within that time.
 */
export function natsAuthority(dir: string, { kernelTtlSeconds = 3600 } = {}) {
  const file = join(dir, AUTHORITY_FILE);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const seeds: Seeds = {
      operator: dec.decode(createOperator().getSeed()),
      system: dec.decode(createAccount().getSeed()),
      account: dec.decode(createAccount().getSeed()),
    };
    writeFileSync(file, JSON.stringify(seeds), { mode: 0o600 });
  }
  const seeds = JSON.parse(readFileSync(file, 'utf8')) as Seeds;
  const operator = fromSeed(enc.encode(seeds.operator));
  const system = fromSeed(enc.encode(seeds.system));
  const account = fromSeed(enc.encode(seeds.account));

  /** A user of the Beacon account: `permissions` absent, it may do anything in the account (a service). */
  async function creds(name: string, permissions?: Permissions, ttlSeconds?: number): Promise<string> {
    const user = createUser();
    const limits = { ...permissions, subs: -1, data: -1, payload: -1 };
    const exp = ttlSeconds ? { exp: Math.floor(Date.now() / 1000) + ttlSeconds } : {};
    const jwt = await encodeUser(name, user, account, limits, exp);
    return dec.decode(fmtCreds(jwt, user));
  }

  return {
    /** nats-server's configuration: the operator, the system account, and both accounts preloaded. */
    async serverConfig(): Promise<string> {
      const systemPub = system.getPublicKey();
      const opJwt = await encodeOperator('beacon', operator, { system_account: systemPub });
      const sysJwt = await encodeAccount('SYS', system, {}, { signer: operator });
      const accJwt = await encodeAccount('beacon', account, { limits: UNLIMITED }, { signer: operator });
      return [
        '# Written by Beacon (bun run nats-auth): the operator and its accounts. Do not edit by hand.',
        `operator: ${opJwt}`,
        `system_account: ${systemPub}`,
        'resolver: MEMORY',
        'resolver_preload: {',
        `  ${systemPub}: ${sysJwt}`,
        `  ${account.getPublicKey()}: ${accJwt}`,
        '}',
        '',
      ].join('\n');
    },
    /** A service's credentials (gateway, platform): anything in the Beacon account. */
    serviceCreds: (name: string) => creds(name),
    /** A kernel's credentials: its own subjects only (kernelPermissions), for `kernelTtlSeconds`. */
    kernelCreds: (handle: string) => creds(`kernel-${handle}`, kernelPermissions(handle), kernelTtlSeconds),
    kernelTtlSeconds,
  };
}

export type NatsAuthority = ReturnType<typeof natsAuthority>;

/** A .creds file, read on every (re)connect so a renewed one is used; undefined without a path. */
export function credsFile(path: string): () => string;
export function credsFile(path: string | undefined): (() => string) | undefined;
export function credsFile(path: string | undefined) {
  return path ? () => readFileSync(path, 'utf8') : undefined;
}
