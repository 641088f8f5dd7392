import { afterAll, describe, expect, test } from 'bun:test';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@beacon/core';
import { createApp } from '../../packages/platform/src/app';
import { createSecrets, envName, fileOwner } from '../../packages/platform/src/clients/secrets';
import { createPlatformParts, docker, execIn, onTestEngine } from '../support/docker';

const { available, prefix } = await onTestEngine('secrets');
const work = mkdtempSync(join(tmpdir(), 'beacon-secrets-test-'));
const runtimeDir = mkdtempSync('/dev/shm/beacon-secrets-test-');
const secretsDir = join(work, 'secrets');
const SECRET = 'sk-live-do-not-leak-4f9a2c';
mkdirSync(secretsDir);
writeFileSync(join(secretsDir, 'OPENAI_API_KEY'), `${SECRET}\n`);
writeFileSync(join(secretsDir, 'DB_PASSWORD'), 'hunter2-but-longer');
// Each owner's own: a folder of theirs.
for (const owner of ['alice', 'bob']) {
  mkdirSync(join(secretsDir, owner));
  writeFileSync(join(secretsDir, owner, `${owner.toUpperCase()}_TOKEN`), `${owner}-only`);
}

const createVia = (app: ReturnType<typeof createApp>, handle: string, fields: Record<string, unknown> = {}) =>
  app.request('/api/containers', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ handle, owner: 'alice', secrets: ['OPENAI_API_KEY'], ...fields }),
  });

/** Everything the platform logs in a test, to grep for secret values. */
function capture() {
  const lines: string[] = [];
  const log = createLogger({
    service: 'platform',
    level: 'debug',
    destination: { write: (l: string) => lines.push(l) },
  });
  return { log, text: () => lines.join('') };
}

// A stand-in for the 1Password CLI: answers `op item list` / `op item get` with the real CLI's JSON shapes.
const OP_SCRIPT = `#!/bin/sh
[ "$OP_SERVICE_ACCOUNT_TOKEN" = "ops_test_token" ] || { echo "[ERROR] invalid token" >&2; exit 1; }
ALICE='{"id":"al1","title":"Alice","tags":["owner:alice"],"vault":{"id":"v1","name":"Beacon"},"category":"API_CREDENTIAL"}'
case "$1 $2" in
  "item list") case "$*" in
    *"--tags owner:alice"*) echo "[$ALICE]" ;;
    *"--tags"*) echo '[]' ;;
    *) echo '[{"id":"abc123","title":"OpenAI","version":1,"vault":{"id":"v1","name":"Beacon"},"category":"API_CREDENTIAL"},'"$ALICE"']' ;;
  esac ;;
  "item get") [ "$3" = "al1" ] && { echo '{"id":"al1","title":"Alice","fields":[{"id":"t","type":"CONCEALED","label":"token","value":"alice-op-secret"}]}'; exit 0; }
  cat <<'JSON'
{"id":"abc123","title":"OpenAI","vault":{"id":"v1","name":"Beacon"},"category":"API_CREDENTIAL",
 "fields":[
  {"id":"notesPlain","type":"STRING","purpose":"NOTES","label":"notesPlain","value":"private notes"},
  {"id":"credential","type":"CONCEALED","label":"api-key","value":"sk-from-1password"},
  {"id":"totp","type":"OTP","label":"one-time password","value":"otpauth://totp/x"},
  {"id":"username","type":"STRING","purpose":"USERNAME","label":"org id","value":"org-42"}
 ]}
JSON
  ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
`;

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(runtimeDir, { recursive: true, force: true });
});

describe('secret resolution', () => {
  test("files go to the image's user: numeric users are resolved, names are not", () => {
    expect(fileOwner('')).toEqual({ uid: 0, gid: 0 });
    expect(fileOwner('root')).toEqual({ uid: 0, gid: 0 });
    expect(fileOwner('1000')).toEqual({ uid: 1000, gid: 1000 });
    expect(fileOwner('1000:50')).toEqual({ uid: 1000, gid: 50 });
    expect(fileOwner('bun')).toBeUndefined();
  });

  test('a platform file is renewed in place, owned as before; a container without one gets none', async () => {
    const log = createLogger({ service: 'platform', level: 'silent' });
    const secrets = createSecrets({ runtimeDir, mode: 'hardened', log });
    await secrets.mount('renewed', { files: { 'nats.creds': 'first' }, user: { uid: 1000, gid: 1000 } });
    const path = join(runtimeDir, 'renewed', 'beacon', 'nats.creds');
    expect(await secrets.renew('renewed', 'nats.creds', 'second')).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('second');
    const file = statSync(path);
    expect({ uid: file.uid, gid: file.gid, mode: file.mode & 0o777 }).toEqual({
      uid: 1000,
      gid: 1000,
      mode: 0o400,
    });
    expect(await secrets.renew('never-made', 'nats.creds', 'x')).toBe(false);
    await secrets.unmount('renewed');
    expect(await secrets.renew('renewed', 'nats.creds', 'third')).toBe(false);
  });

  test('env names are ITEM_TITLE_FIELD_LABEL', () => {
    expect(envName('Open-AI', 'api key')).toBe('OPEN_AI_API_KEY');
  });

  test('from 1Password through the op CLI: notes and OTP fields are skipped; an owner gets their tagged items, shared ones only when named', async () => {
    const bin = join(work, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'op'), OP_SCRIPT);
    chmodSync(join(bin, 'op'), 0o755);
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      const secrets = createSecrets({
        opToken: 'ops_test_token',
        opVault: 'Beacon',
        dir: secretsDir,
        runtimeDir,
        mode: 'hardened',
        log: capture().log,
      });
      expect(await secrets.resolve({ owner: 'alice', shared: ['OPENAI_API_KEY', 'OPENAI_ORG_ID'] })).toEqual({
        OPENAI_API_KEY: 'sk-from-1password',
        OPENAI_ORG_ID: 'org-42',
        ALICE_TOKEN: 'alice-op-secret',
      });
      // Bob has no items of his own, and names no shared one: nothing, and never Alice's.
      expect(await secrets.resolve({ owner: 'bob' })).toEqual({});
      expect(await secrets.resolve({ owner: 'bob', shared: ['OPENAI_API_KEY'] })).toEqual({
        OPENAI_API_KEY: 'sk-from-1password',
      });
      const wrong = createSecrets({ opToken: 'nope', runtimeDir, mode: 'hardened', log: capture().log });
      await expect(wrong.resolve({ owner: 'alice' })).rejects.toThrow('1Password CLI failed');
    } finally {
      process.env.PATH = path;
    }
  });
});

describe.skipIf(!available)('secrets injected into real containers', () => {
  test("hardened: the owner's files and the named shared ones under /run/secrets (0400), nobody else's; values in no log, response or metric", async () => {
    const logs = capture();
    const secrets = createSecrets({ dir: secretsDir, runtimeDir, mode: 'hardened', log: logs.log });
    const parts = createPlatformParts(undefined, { secrets, log: logs.log });
    const app = createApp({ identity: { name: 'platform', version: 't' }, ...parts });
    const handle = `${prefix}-hard`;
    const created = await createVia(app, handle);
    expect(created.status).toBe(201);
    expect((await execIn(handle, 'cat', '/run/secrets/OPENAI_API_KEY')).trim()).toBe(SECRET);
    expect((await execIn(handle, 'stat', '-c', '%a', '/run/secrets/OPENAI_API_KEY')).trim()).toBe('400');
    expect((await execIn(handle, 'ls', '/run/secrets')).split('\n').filter(Boolean).sort()).toEqual([
      'ALICE_TOKEN',
      'OPENAI_API_KEY',
    ]);
    // Bob's container: his file only.
    const bobs = `${prefix}-bob`;
    expect((await createVia(app, bobs, { owner: 'bob', secrets: [] })).status).toBe(201);
    expect((await execIn(bobs, 'ls', '/run/secrets')).trim()).toBe('BOB_TOKEN');
    await parts.containers.destroy(bobs);
    // A shared secret that is not there is named.
    const unknown = await createVia(app, `${prefix}-nope`, { secrets: ['NOPE'] });
    expect(unknown.status).toBe(400);
    expect((await unknown.json()).error.message).toBe(
      'body.secrets: NOPE is not a shared secret (BEACON_SECRETS_DIR)',
    );
    const seen = [
      await created.text(),
      await (await app.request(`/api/containers/${handle}`)).text(),
      await (await app.request('/api/containers')).text(),
      await (await app.request('/metrics')).text(),
      logs.text(),
    ].join('\n');
    expect(logs.text()).toContain('secrets.mounted');
    expect(seen).not.toContain(SECRET);
    expect(seen).not.toContain('hunter2');
    await parts.containers.destroy(handle);
  });

  test('legacy: one ~/.env file', async () => {
    const secrets = createSecrets({ dir: secretsDir, runtimeDir, mode: 'legacy', log: capture().log });
    const parts = createPlatformParts(undefined, { secrets });
    const handle = `${prefix}-legacy`;
    await parts.containers.create({ handle, owner: 'alice', secrets: ['OPENAI_API_KEY', 'DB_PASSWORD'] });
    const env = await execIn(handle, 'cat', '/root/.env');
    expect(env).toContain(`OPENAI_API_KEY="${SECRET}"`);
    expect(env).toContain('DB_PASSWORD="hunter2-but-longer"');
    expect(env).toContain('ALICE_TOKEN="alice-only"');
    expect(env).not.toContain('BOB_TOKEN');
  });

  test('a missing secrets directory is a clear error at provision and no half-made container', async () => {
    const secrets = createSecrets({
      dir: join(work, 'nope'),
      runtimeDir,
      mode: 'hardened',
      log: capture().log,
    });
    const parts = createPlatformParts(undefined, { secrets });
    const app = createApp({ identity: { name: 'platform', version: 't' }, ...parts });
    const handle = `${prefix}-missing`;
    const res = await createVia(app, handle);
    expect(res.status).toBe(503);
    const { message } = (await res.json()).error;
    expect(message).toBe('the secrets directory (BEACON_SECRETS_DIR) is not readable (ENOENT)');
    expect(parts.containers.find(handle)).toBeUndefined();
    await expect(docker.getContainer(`beacon-${handle}`).inspect()).rejects.toThrow();
  });
});
