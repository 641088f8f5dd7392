import { mkdir, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { AppError } from '@beacon/core';

export interface StoredArtifact {
  key: string;
  size: number;
  etag: string;
}

export interface ArtifactInfo extends StoredArtifact {
  lastModified: string;
}

export interface ArtifactObject extends ArtifactInfo {
  body: ReadableStream<Uint8Array>;
  contentType: string;
}

/** Where artifacts live: a directory (the default) or an S3 bucket (MinIO or any S3). */
export interface ArtifactStore {
  readonly kind: 'filesystem' | 's3';
  /** `size` is the body's declared length; bodies are streamed, never held whole. */
  put(
    key: string,
    body: ReadableStream<Uint8Array>,
    size: number,
    contentType: string,
  ): Promise<StoredArtifact>;
  get(key: string): Promise<ArtifactObject | undefined>;
  /** False when there was nothing to delete. */
  delete(key: string): Promise<boolean>;
  list(prefix: string, limit: number): Promise<ArtifactInfo[]>;
  /** For /health: throws when the store cannot be reached. */
  check(): Promise<void>;
}

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

/**
 * Artifacts as files under `root` (keys are relative paths). Uploads go to a temporary file beside the
 * root and are renamed into place, so a reader never sees half a file. The content type comes from the
 * key's extension; the etag is opaque (modification time and size, as nginx makes it).
 */
export function createFsArtifactStore(root: string): ArtifactStore {
  const base = resolve(root);
  const tmp = `${base}.tmp`;
  const pathOf = (key: string) => {
    const path = resolve(base, key);
    if (!path.startsWith(base + sep)) throw new AppError('bad_request', `key ${key} leaves the store`);
    return path;
  };
  const infoOf = async (key: string, path: string): Promise<ArtifactInfo> => {
    const s = await stat(path);
    if (!s.isFile()) throw Object.assign(new Error(`${key} is a directory`), { code: 'EISDIR' });
    const etag = `${Math.floor(s.mtimeMs).toString(16)}-${s.size.toString(16)}`;
    return { key, size: s.size, etag, lastModified: s.mtime.toISOString() };
  };

  return {
    kind: 'filesystem',

    async put(key, body, _size) {
      const path = pathOf(key);
      await mkdir(tmp, { recursive: true });
      const part = join(tmp, crypto.randomUUID());
      try {
        await Bun.write(part, new Response(body));
        await mkdir(dirname(path), { recursive: true });
        await rename(part, path);
        const { lastModified: _at, ...stored } = await infoOf(key, path);
        return stored;
      } catch (err) {
        await rm(part, { force: true });
        if (code(err) === 'ENOTDIR' || code(err) === 'EISDIR' || code(err) === 'EEXIST')
          throw new AppError('conflict', `key ${key} clashes with an existing artifact's path`);
        throw err;
      }
    },

    async get(key) {
      const path = pathOf(key);
      try {
        const info = await infoOf(key, path);
        const file = Bun.file(path);
        return { ...info, body: file.stream(), contentType: file.type };
      } catch (err) {
        if (code(err) === 'ENOENT' || code(err) === 'EISDIR' || code(err) === 'ENOTDIR') return undefined;
        throw err;
      }
    },

    async delete(key) {
      try {
        await unlink(pathOf(key));
        return true;
      } catch (err) {
        if (code(err) === 'ENOENT' || code(err) === 'EISDIR' || code(err) === 'ENOTDIR') return false;
        throw err;
      }
    },

    async list(prefix, limit) {
      await mkdir(base, { recursive: true });
      const entries = await readdir(base, { recursive: true, withFileTypes: true });
      const keys = entries
        .filter((e) => e.isFile())
        .map((e) => relative(base, join(e.parentPath, e.name)).split(sep).join('/'))
        .filter((key) => key.startsWith(prefix))
        .sort()
        .slice(0, limit);
      return Promise.all(keys.map((key) => infoOf(key, pathOf(key))));
    },

    async check() {
      await mkdir(base, { recursive: true });
    },
  };
}
