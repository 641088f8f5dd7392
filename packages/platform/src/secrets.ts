import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, type Logger } from '@beacon/core';

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
  async function fromOp(token: string): Promise<Record<string, string>> {
    const vault = config.opVault ? ['--vault', config.opVault] : [];
    const items = (await runOp(['item', 'list', ...vault], token)) as { id: string; title: string }[];
    const out: Record<string, string> = {};
    for (const item of items) {
      const detail = (await runOp(['item', 'get', item.id, ...vault], token)) as { fields?: OpField[] };
      for (const field of detail.fields ?? []) {
        if (field.id === 'notesPlain' || field.purpose === 'NOTES' || field.type === 'OTP') continue;
        if (!field.value || !field.label) continue;
        out[envName(item.title, field.label)] = field.value;
      }
    }
    return out;
  }

  async function fromDir(dir: string): Promise<Record<string, string>> {
    let names: string[];
    try {
      names = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new AppError('unavailable', `secrets directory ${dir} is not readable (${code ?? 'error'})`);
    }
    const out: Record<string, string> = {};
    for (const name of names) {
      try {
        out[name] = (await readFile(join(dir, name), 'utf8')).replace(/\n$/, '');
      } catch (err) {
        throw new AppError(
          'unavailable',
          `secret ${name} in ${dir} is not readable (${(err as NodeJS.ErrnoException).code})`,
        );
      }
    }
    return out;
  }

  async function resolve(): Promise<Record<string, string>> {
    const token =
      config.opToken ??
      (config.opTokenFile ? (await readFile(config.opTokenFile, 'utf8')).trim() : undefined);
    if (token) return fromOp(token);
    if (config.dir) return fromDir(config.dir);
    return {};
  }

  return {
    resolve,
    /** Write a container's secrets to the host tmpfs and return the bind mount; undefined when there are none. */
    async mount(handle: string): Promise<string | undefined> {
      const secrets = await resolve();
      const keys = Object.keys(secrets);
      if (keys.length === 0) return undefined;
      const dir = join(config.runtimeDir, handle);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true, mode: 0o700 });
      if (config.mode === 'legacy') {
        const lines = keys.map((k) => `${k}=${JSON.stringify(secrets[k])}`);
        await writeFile(join(dir, '.env'), `${lines.join('\n')}\n`, { mode: 0o400 });
        config.log.info({ event: 'secrets.mounted', handle, mode: 'legacy', keys }, 'secrets prepared');
        return `${join(dir, '.env')}:/root/.env:ro`;
      }
      for (const key of keys) await writeFile(join(dir, key), secrets[key] ?? '', { mode: 0o400 });
      await chmod(dir, 0o500);
      config.log.info({ event: 'secrets.mounted', handle, mode: 'hardened', keys }, 'secrets prepared');
      return `${dir}:/run/secrets:ro`;
    },
    async unmount(handle: string): Promise<void> {
      await rm(join(config.runtimeDir, handle), { recursive: true, force: true });
    },
  };
}

export type Secrets = ReturnType<typeof createSecrets>;
