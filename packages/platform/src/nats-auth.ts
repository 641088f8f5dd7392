/**
 * `bun run nats-auth [DIR]` (default .data/nats): writes Beacon's NATS accounts for nats-server's JWT mode —
 * DIR/nats.conf (include it, or pass it with -c), DIR/gateway.creds and DIR/platform.creds for the services, and
 * DIR/authority.json (the seeds; the platform signs each container's credentials with it: BEACON_NATS_AUTH_DIR).
 * Run again, it keeps the authority and writes the rest anew. Nobody edits these by hand (docs/security.md).
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { natsAuthority } from '@beacon/core';

const dir = resolve(process.argv[2] ?? '.data/nats');
const authority = natsAuthority(dir);
const secret = { mode: 0o600 };
writeFileSync(join(dir, 'nats.conf'), await authority.serverConfig());
for (const service of ['gateway', 'platform'])
  writeFileSync(join(dir, `${service}.creds`), await authority.serviceCreds(service), secret);
console.log(`NATS accounts in ${dir}:
  nats-server -js -c ${join(dir, 'nats.conf')}
  platform: BEACON_NATS_AUTH_DIR=${dir} BEACON_NATS_CREDS=${join(dir, 'platform.creds')}
  gateway:  BEACON_NATS_CREDS=${join(dir, 'gateway.creds')}`);
