import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@beacon/core';
import { Client } from 'minio';
import { Registry } from 'prom-client';
import S3rver from 's3rver';
import { createApp } from '../../packages/gateway/src/app';
import { type ArtifactStore, createFsArtifactStore } from '../../packages/gateway/src/clients/artifact-store';
import { createS3ArtifactStore } from '../../packages/gateway/src/clients/s3-artifact-store';
import { loadConfig } from '../../packages/gateway/src/config';
import { createMetrics } from '../../packages/gateway/src/metrics';
import type { ArtifactMode } from '../../packages/gateway/src/routes/artifacts';
import { freePort } from '../support/ports';

// s3rver is an S3 server for tests (npm); MinIO's server is not obtainable here. Its keys are fixed.
const S3_KEYS = { accessKey: 'S3RVER', secretKey: 'S3RVER', region: 'us-east-1' };
const work = mkdtempSync(join(tmpdir(), 'beacon-artifacts-'));
let s3: S3rver;
let s3Endpoint = '';

beforeAll(async () => {
  s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: join(work, 's3') });
  const { port } = await s3.run();
  s3Endpoint = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await s3.close();
  rmSync(work, { recursive: true, force: true });
});

function gateway(store: ArtifactStore, mode: ArtifactMode = 'enforce', maxBytes = 16 * 1024 * 1024) {
  const registry = new Registry();
  const app = createApp({
    identity: { name: 'gateway', version: 'test' },
    registry,
    metrics: createMetrics(registry),
    log: createLogger({ service: 'gateway', level: 'silent' }),
    probes: [{ name: 'artifacts', check: store.check }],
    artifacts: { store, mode, maxBytes },
  });
  // In process there is no HTTP client to add content-length, so put adds it as one would.
  const put = (
    key: string,
    body: string | ArrayBuffer | ReadableStream,
    headers: Record<string, string> = {},
  ) =>
    app.request(`/api/artifacts/${key}`, {
      method: 'POST',
      body,
      headers: {
        ...(body instanceof ReadableStream
          ? {}
          : {
              'content-length': String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength),
            }),
        ...headers,
      },
    });
  const ops = async (op: string, status: string) =>
    (await registry.getSingleMetric('gateway_artifact_operations_total')?.get())?.values.find(
      (v) => v.labels.op === op && v.labels.status === status,
    )?.value ?? 0;
  return { app, put, ops };
}

const stores: [string, () => ArtifactStore][] = [
  ['filesystem', () => createFsArtifactStore(mkdtempSync(join(work, 'fs-')))],
  [
    's3',
    () => createS3ArtifactStore({ endpoint: s3Endpoint, bucket: `b-${crypto.randomUUID()}`, ...S3_KEYS }),
  ],
];

for (const [kind, makeStore] of stores) {
  describe(`artifacts on the ${kind} store`, () => {
    test('put → 201 {stored, key, size, etag}; get streams it back; list by prefix; delete', async () => {
      const { app, put, ops } = gateway(makeStore());
      const body = JSON.stringify({ answer: 42 });
      const res = await put('results/task-1.json', body, { 'content-type': 'application/json' });
      expect(res.status).toBe(201);
      const stored = await res.json();
      expect(stored).toMatchObject({ stored: true, key: 'results/task-1.json', size: body.length });
      expect(stored.etag).toBeString();
      await put('results/task-2.json', '{}', { 'content-type': 'application/json' });
      await put('other/x.txt', 'x', { 'content-type': 'text/plain' });
      // Any character but the refused ones is a key: spaces, brackets, non-ASCII, percent-encoded once.
      const odd = 'odd/50 percent (½) off.txt';
      expect((await put(encodeURIComponent(odd), 'y')).status).toBe(201);
      expect(await (await app.request(`/api/artifacts/${encodeURIComponent(odd)}`)).text()).toBe('y');

      const list = await (await app.request('/api/artifacts?prefix=results/')).json();
      expect(list.artifacts.map((a: { key: string }) => a.key)).toEqual([
        'results/task-1.json',
        'results/task-2.json',
      ]);
      expect(list.artifacts[0]).toMatchObject({ size: body.length, etag: stored.etag });
      const listedOdd = await (await app.request('/api/artifacts?prefix=odd/')).json();
      expect(listedOdd.artifacts.map((a: { key: string }) => a.key)).toEqual([odd]);
      const limited = await (await app.request('/api/artifacts?limit=1')).json();
      expect(limited.artifacts).toHaveLength(1);

      expect((await app.request('/api/artifacts/results/task-1.json', { method: 'DELETE' })).status).toBe(
        204,
      );
      expect((await app.request('/api/artifacts/results/task-1.json')).status).toBe(404);
      expect((await app.request('/api/artifacts/results/task-1.json', { method: 'DELETE' })).status).toBe(
        404,
      );
      expect(await ops('put', 'ok')).toBe(4);
      expect(await ops('get', 'not_found')).toBe(1);
      expect(await ops('delete', 'ok')).toBe(1);
    });

    test('a 6 MiB upload over HTTP round-trips byte for byte', async () => {
      const { app } = gateway(makeStore());
      const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: app.fetch });
      try {
        const bytes = crypto.getRandomValues(new Uint8Array(6 * 1024 * 1024));
        const url = `http://127.0.0.1:${server.port}/api/artifacts/big/blob.bin`;
        const res = await fetch(url, { method: 'POST', body: new Blob([bytes]) });
        expect(res.status).toBe(201);
        expect((await res.json()).size).toBe(bytes.length);
        const back = new Uint8Array(await (await fetch(url)).arrayBuffer());
        expect(back.length).toBe(bytes.length);
        expect(Bun.hash(back)).toBe(Bun.hash(bytes));
      } finally {
        server.stop(true);
      }
    });
  });
}

describe('artifact input and modes', () => {
  test('bad keys and queries → 400 naming what is wrong; no length → 411; too big → 413', async () => {
    const { app, put, ops } = gateway(createFsArtifactStore(join(work, 'input')), 'enforce', 1024);
    for (const [key, message] of [
      // URL parsing resolves `..` and `%2E%2E` segments before any route sees them; `%2F` it leaves alone.
      ['a/..%2F..%2Fetc%2Fpasswd', 'key: must not contain . or .. segments'],
      ['%2Fetc%2Fpasswd', 'key: must not start with /'],
      ['a//b', 'key: must not contain empty segments'],
      ['dir/', 'key: must not contain empty segments'],
      ['x'.repeat(1025), 'key: must be at most 1024 bytes'],
      ['%E0%A4%A', 'key: not valid percent-encoding'],
    ]) {
      const res = await put(key as string, 'x');
      expect({ key, status: res.status }).toEqual({ key, status: 400 });
      expect((await res.json()).error.message).toStartWith(message as string);
    }
    const badPrefix = await app.request('/api/artifacts?prefix=../');
    expect(badPrefix.status).toBe(400);
    expect((await badPrefix.json()).error.message).toStartWith('prefix:');
    expect((await app.request('/api/artifacts?limit=0')).status).toBe(400);

    const stream = new Blob(['abc']).stream();
    const unsized = await put('a.txt', stream);
    expect(unsized.status).toBe(411);
    expect((await unsized.json()).error.message).toContain('content-length');
    const big = await put('big.bin', new ArrayBuffer(2048));
    expect(big.status).toBe(413);
    expect((await big.json()).error.message).toContain('1024-byte limit');
    expect(await ops('put', 'rejected')).toBe(8);
  });

  test('a literal % in a key survives: the path is decoded exactly once', async () => {
    const { app, put } = gateway(createFsArtifactStore(join(work, 'percent')));
    const key = encodeURIComponent('deals/50% off.txt');
    expect((await put(key, 'z')).status).toBe(201);
    expect(await (await app.request(`/api/artifacts/${key}`)).text()).toBe('z');
  });

  test('on the filesystem a key inside another artifact is a 409, not a 500', async () => {
    const { put } = gateway(createFsArtifactStore(join(work, 'clash')));
    expect((await put('report', 'x')).status).toBe(201);
    const clash = await put('report/part-1', 'y');
    expect(clash.status).toBe(409);
    expect((await clash.json()).error.message).toContain('report/part-1');
  });

  test('mode off: every artifact route answers 503 and says why', async () => {
    const { app, put } = gateway(createFsArtifactStore(join(work, 'off')), 'off');
    for (const res of [
      await put('a.txt', 'x'),
      await app.request('/api/artifacts/a.txt'),
      await app.request('/api/artifacts'),
      await app.request('/api/artifacts/a.txt', { method: 'DELETE' }),
    ]) {
      expect(res.status).toBe(503);
      expect((await res.json()).error.message).toContain('BEACON_ARTIFACT_MODE=off');
    }
  });

  describe('an unreachable S3 store', () => {
    const unreachable = async () =>
      createS3ArtifactStore({ endpoint: `http://127.0.0.1:${await freePort()}`, bucket: 'gone', ...S3_KEYS });

    test('enforce: 502 naming the store, counted, /health degraded', async () => {
      const { app, put, ops } = gateway(await unreachable(), 'enforce');
      const res = await put('a.txt', 'x');
      expect(res.status).toBe(502);
      expect((await res.json()).error.message).toBe('artifact store (s3) could not put a.txt');
      expect((await app.request('/api/artifacts')).status).toBe(502);
      expect(await ops('put', 'error')).toBe(1);
      const health = await (await app.request('/health')).json();
      expect(health.status).toBe('degraded');
      expect(health.checks.artifacts.status).toBe('error');
    });

    test('warn: soft answers — not stored, not found, an empty list — each naming the failure', async () => {
      const { app, put, ops } = gateway(await unreachable(), 'warn');
      const res = await put('a.txt', 'x');
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ stored: false, key: 'a.txt', error: expect.any(String) });
      const got = await app.request('/api/artifacts/a.txt');
      expect(got.status).toBe(404);
      expect((await got.json()).error.message).toContain('could not get a.txt');
      expect(await (await app.request('/api/artifacts')).json()).toMatchObject({ artifacts: [] });
      expect(await ops('get', 'error')).toBe(1);
    });
  });

  test('configuration: an S3 endpoint needs its keys; a mode must be one of three', () => {
    expect(() => loadConfig({ BEACON_S3_ENDPOINT: 'http://minio:9000' })).toThrow(
      'BEACON_S3_ACCESS_KEY, BEACON_S3_SECRET_KEY: required when BEACON_S3_ENDPOINT is set',
    );
    expect(() => loadConfig({ BEACON_ARTIFACT_MODE: 'maybe' })).toThrow('BEACON_ARTIFACT_MODE');
    expect(loadConfig({})).toMatchObject({ BEACON_ARTIFACT_MODE: 'warn', BEACON_S3_BUCKET: 'artifacts' });
  });

  test('the S3 bucket is created on first use', async () => {
    const bucket = `first-${crypto.randomUUID()}`;
    const client = new Client({
      endPoint: '127.0.0.1',
      port: Number(new URL(s3Endpoint).port),
      useSSL: false,
      ...S3_KEYS,
    });
    expect(await client.bucketExists(bucket)).toBe(false);
    const { put } = gateway(createS3ArtifactStore({ endpoint: s3Endpoint, bucket, ...S3_KEYS }));
    expect((await put('a.txt', 'x')).status).toBe(201);
    expect(await client.bucketExists(bucket)).toBe(true);
  });
});
