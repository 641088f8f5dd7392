import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { Client } from 'minio';
import type { ArtifactInfo, ArtifactStore } from './artifact-store';

export interface S3Options {
  endpoint: string;
  bucket: string;
  accessKey: string;
  secretKey: string;
  region: string;
}

const notFound = (err: unknown) => ['NotFound', 'NoSuchKey'].includes((err as { code?: string }).code ?? '');

/** Artifacts in an S3 bucket (MinIO or any S3), created on first use. */
export function createS3ArtifactStore(options: S3Options): ArtifactStore {
  const url = new URL(options.endpoint);
  const useSSL = url.protocol === 'https:';
  const client = new Client({
    endPoint: url.hostname,
    port: Number(url.port) || (useSSL ? 443 : 80),
    useSSL,
    accessKey: options.accessKey,
    secretKey: options.secretKey,
    region: options.region,
  });
  const { bucket } = options;

  // Once per process; a failure is forgotten so the next call tries again.
  let ready: Promise<void> | undefined;
  const ensureBucket = () => {
    ready ??= (async () => {
      if (!(await client.bucketExists(bucket))) await client.makeBucket(bucket, options.region);
    })().catch((err) => {
      ready = undefined;
      throw err;
    });
    return ready;
  };

  return {
    kind: 's3',

    async put(key, body, size, contentType) {
      await ensureBucket();
      // The DOM and node:stream/web stream types differ on paper only; Bun has one ReadableStream.
      const stream = Readable.fromWeb(body as unknown as NodeReadableStream<Uint8Array>);
      const { etag } = await client.putObject(bucket, key, stream, size, { 'Content-Type': contentType });
      return { key, size, etag };
    },

    async get(key) {
      await ensureBucket();
      try {
        const stat = await client.statObject(bucket, key);
        const object = await client.getObject(bucket, key);
        return {
          key,
          size: stat.size,
          etag: stat.etag,
          lastModified: stat.lastModified.toISOString(),
          contentType: String(stat.metaData['content-type'] ?? 'application/octet-stream'),
          body: Readable.toWeb(object) as unknown as ReadableStream<Uint8Array>,
        };
      } catch (err) {
        if (notFound(err)) return undefined;
        throw err;
      }
    },

    async delete(key) {
      await ensureBucket();
      // S3 deletes are idempotent; ask first so a missing key can be told apart.
      try {
        await client.statObject(bucket, key);
      } catch (err) {
        if (notFound(err)) return false;
        throw err;
      }
      await client.removeObject(bucket, key);
      return true;
    },

    async list(prefix, limit) {
      await ensureBucket();
      const items: ArtifactInfo[] = [];
      for await (const item of client.listObjectsV2(bucket, prefix, true)) {
        if (!item.name) continue;
        items.push({
          key: item.name,
          size: item.size,
          etag: item.etag ?? '',
          lastModified: new Date(item.lastModified ?? 0).toISOString(),
        });
        if (items.length >= limit) break;
      }
      return items;
    },

    async check() {
      await ensureBucket();
    },
  };
}
