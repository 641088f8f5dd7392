import { chmod, chown, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, type Logger, PLATFORM_FILES_DIR } from '@beacon/core';

export interface SecretsConfig {
  /** Directory whose files are secrets (file name = key). */
  dir?: string | undefined;
  /** 1Password: a service-account token (or a file holding it) and the vault to read. */
  opToken?: string | undefined;
  opTokenFile?: string | undefined;
  opVault?: string | undefined;
  /** Host directory on a tmpfs where each container's secret files are written before bind-mounting. */
  runtimeDir: string;
  /** hardened: files under /run/secrets (0400); legacy: one ~/.env file. */
  mode: 'hardened' | 'legacy';
  log: Logger;
}

/** The container's user, from its image: files it must read are given to it. */
export interface FileOwner {
  uid: number;
  gid: number;
}

export interface MountOptions {
  /** The platform's own files for the container (name → content), e.g. `proxy-key`. */
  files?: Record<string, string>;
  /** Whose secrets: the files of `BEACON_SECRETS_DIR/<owner>/` (1Password: items tagged `owner:<owner>`). */
  owner?: string | undefined;
  /** Shared secrets the create request names: top-level files (1Password: untagged items' fields). */
  shared?: string[] | undefined;
  /** undefined: a user the platform cannot resolve (a name), so the files are world-readable. */
  user?: FileOwner | undefined;
}

/** `Config.User` of an image → the owner to give files to ("" and "root" are uid 0; a name is unknown). */
export function fileOwner(imageUser: string): FileOwner | undefined {
  const user = imageUser.trim();
  if (user === '' || user === 'root') return { uid: 0, gid: 0 };
  const match = /^(\d+)(?::(\d+))?$/.exec(user);
  if (!match) return undefined;
  const uid = Number(match[1]);
  return { uid, gid: match[2] ? Number(match[2]) : uid };
}

/** 1Password items of one owner carry the tag `owner:<owner>`. */
const OWNER_TAG = 'owner:';
/** An owner name that can be a folder name: no path, no dot-only name. */
const OWNER_NAME = /^(?!\.{1,2}$)[A-Za-z0-9._@-]{1,128}$/;

type OpField = { id?: string; label?: string; type?: string; purpose?: string; value?: string };

/** ITEM_TITLE_FIELD_LABEL: upper case, hyphens and spaces to underscores. */
export const envName = (...parts: string[]) =>
  parts
    .join('_')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toUpperCase();

async function runOp(args: string[], token: string): Promise<unknown> {
  const proc = Bun.spawn(['op', ...args, '--format', 'json'], {
    env: { ...process.env, OP_SERVICE_ACCOUNT_TOKEN: token },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  // stderr may quote the request, never the secret values; keep it short anyway.
  if (code !== 0)
    throw new AppError(
      'unavailable',
      `1Password CLI failed (op ${args[0]} ${args[1]}): ${err.trim().slice(0, 200)}`,
    );
  return JSON.parse(out);
}

/**
 * Resolves secrets at provision time: from 1Password when a service-account token is configured, else
 * from files in the secrets directory, else none. Values never reach logs, responses or metrics.
 */
export function createSecrets(config: SecretsConfig) {
  /** Fields of the vault's items as ITEM_FIELD: those tagged `owner:<owner>`, or the untagged (shared) ones. */
  async function fromOp(token: string, owner: string | undefined): Promise<Record<string, string>> {
    const vault = config.opVault ? ['--vault', config.opVault] : [];
    const tags = owner ? ['--tags', `${OWNER_TAG}${owner}`] : [];
    const items = (await runOp(['item', 'list', ...vault, ...tags], token)) as {
      id: string;
      title: string;
      tags?: string[];
    }[];
    const out: Record<string, string> = {};
    for (const item of items) {
      const tagged = (item.tags ?? []).some((t) => t.startsWith(OWNER_TAG));
      if (!owner && tagged) continue;
      const detail = (await runOp(['item', 'get', item.id, ...vault], token)) as { fields?: OpField[] };
      for (const field of detail.fields ?? []) {
        if (field.id === 'notesPlain' || field.purpose === 'NOTES' || field.type === 'OTP') continue;
        if (!field.value || !field.label) continue;
        out[envName(item.title, field.label)] = field.value;
      }
    }
    return out;
  }

  /** The files of `dir` (none when it does not exist and `optional`). */
  async function fromDir(dir: string, optional = false): Promise<Record<string, string>> {
    let names: string[];
    try {
      names = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (optional && code === 'ENOENT') return {};
      config.log.error({ event: 'secrets.dir_unreadable', dir, code }, 'secrets directory not readable');
      throw new AppError(
        'unavailable',
        `the secrets directory (BEACON_SECRETS_DIR) is not readable (${code ?? 'error'})`,
      );
    }
    const out: Record<string, string> = {};
    for (const name of names) {
      try {
        out[name] = (await readFile(join(dir, name), 'utf8')).replace(/\n$/, '');
      } catch (err) {
        throw new AppError(
          'unavailable',
          `secret ${name} in BEACON_SECRETS_DIR is not readable (${(err as NodeJS.ErrnoException).code})`,
        );
      }
    }
    return out;
  }

  /**
   * A container's secrets: its owner's (their folder, or their tagged items) and the shared ones its create
   * named — nothing of anyone else's. A named shared secret that does not exist is a 400.
   */
  async function resolve({ owner, shared = [] }: Pick<MountOptions, 'owner' | 'shared'> = {}) {
    const token =
      config.opToken ??
      (config.opTokenFile ? (await readFile(config.opTokenFile, 'utf8')).trim() : undefined);
    const ownerOk = owner !== undefined && OWNER_NAME.test(owner);
    let own: Record<string, string> = {};
    let common: Record<string, string> = {};
    if (token) {
      if (ownerOk) own = await fromOp(token, owner);
      if (shared.length) common = await fromOp(token, undefined);
    } else if (config.dir) {
      // Read even when nothing shared is named: an unreadable directory is an error, not an empty one.
      common = await fromDir(config.dir);
      if (ownerOk) own = await fromDir(join(config.dir, owner), true);
    }
    const picked: Record<string, string> = {};
    for (const name of shared) {
      const value = common[name];
      if (value === undefined)
        throw new AppError(
          'bad_request',
          `body.secrets: ${name} is not a shared secret (BEACON_SECRETS_DIR)`,
        );
      picked[name] = value;
    }
    return { ...picked, ...own };
  }

  /** Give a file or directory to the container's user; world-readable when that user is unknown. */
  async function own(path: string, user: FileOwner | undefined, mode: number) {
    if (user) {
      try {
        await chown(path, user.uid, user.gid);
        await chmod(path, mode);
        return;
      } catch (err) {
        config.log.warn(
          { event: 'secrets.chown_failed', uid: user.uid, code: (err as NodeJS.ErrnoException).code },
          'cannot give secret files to the container user; they are readable by every user in it',
        );
      }
    }
    // Still the platform's to replace and remove (a directory keeps its owner's write bit).
    await chmod(path, mode === 0o500 ? 0o755 : 0o444);
  }

  async function writeOwned(path: string, content: string, user: FileOwner | undefined) {
    // Written aside and renamed: a reader never sees half a file.
    const tmp = `${path}.tmp`;
    await writeFile(tmp, content, { mode: 0o600 });
    await own(tmp, user, 0o400);
    await rename(tmp, path);
  }

  const dirOf = (handle: string) => join(config.runtimeDir, handle);

  return {
    resolve,
    /**
     * Write a container's files on the host tmpfs and return their bind mounts: the platform's own files
     * (its proxy key) under /run/beacon, the resolved secrets under /run/secrets (hardened) or ~/.env.
     */
    async mount(handle: string, { files = {}, user, owner, shared }: MountOptions = {}): Promise<string[]> {
      const secrets = await resolve({ owner, shared });
      const keys = Object.keys(secrets);
      const dir = dirOf(handle);
      await rm(dir, { recursive: true, force: true });
      if (keys.length === 0 && Object.keys(files).length === 0) return [];
      await mkdir(dir, { recursive: true, mode: 0o755 });
      const binds: string[] = [];
      if (Object.keys(files).length > 0) {
        const platformDir = join(dir, 'beacon');
        await mkdir(platformDir, { mode: 0o700 });
        for (const [name, content] of Object.entries(files))
          await writeOwned(join(platformDir, name), content, user);
        await own(platformDir, user, 0o500);
        binds.push(`${platformDir}:${PLATFORM_FILES_DIR}:ro`);
      }
      if (keys.length === 0) return binds;
      if (config.mode === 'legacy') {
        const lines = keys.map((k) => `${k}=${JSON.stringify(secrets[k])}`);
        await writeOwned(join(dir, '.env'), `${lines.join('\n')}\n`, user);
        config.log.info({ event: 'secrets.mounted', handle, mode: 'legacy', keys }, 'secrets prepared');
        return [...binds, `${join(dir, '.env')}:/root/.env:ro`];
      }
      const hardened = join(dir, 'secrets');
      await mkdir(hardened, { mode: 0o700 });
      for (const key of keys) await writeOwned(join(hardened, key), secrets[key] ?? '', user);
      await own(hardened, user, 0o500);
      config.log.info({ event: 'secrets.mounted', handle, mode: 'hardened', keys }, 'secrets prepared');
      return [...binds, `${hardened}:/run/secrets:ro`];
    },
    /**
     * Replace one of the platform's files of a container that has them (a renewed credential), owned as the one
     * it replaces; false when the container has no such file (gone, or never given one).
     */
    async renew(handle: string, name: string, content: string): Promise<boolean> {
      const path = join(dirOf(handle), 'beacon', name);
      const was = await stat(path).catch(() => undefined);
      if (!was) return false;
      // A world-readable file had no known user: so is its successor.
      await writeOwned(path, content, was.mode & 0o004 ? undefined : { uid: was.uid, gid: was.gid });
      return true;
    },
    async unmount(handle: string): Promise<void> {
      await rm(dirOf(handle), { recursive: true, force: true });
    },
    /** Handles that have files on the tmpfs (to find what a crash left behind). */
    handles: (): Promise<string[]> => readdir(config.runtimeDir).catch(() => []),
  };
}

export type Secrets = ReturnType<typeof createSecrets>;
