/**
 * The same requests sent straight to the fake upstream and through the proxy (its real main.ts), in one
 * run, non-streaming and streaming, under wrk: added latency p50/p99 and the throughput ratio.
 * The fake upstream answers after UPSTREAM_LATENCY_MS, like a (very fast) real provider.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { post } from '../tests/support/http';
import { freePort } from '../tests/support/ports';
import { startService } from '../tests/support/service';

const UPSTREAM_LATENCY_MS = 20;

interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
}

const ms = (v: string, unit: string) => Number(v) * ({ us: 0.001, ms: 1, s: 1000 }[unit] ?? 1);

async function wrkPost(
  url: string,
  body: string,
  headers: Record<string, string>,
  seconds: number,
  connections: number,
): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), 'wrk-'));
  const script = join(dir, 'post.lua');
  const lines = Object.entries({ 'content-type': 'application/json', ...headers }).map(
    ([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`,
  );
  writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\n${lines.join('\n')}\n`);
  const proc = Bun.spawn(
    ['wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, url],
    {
      stdout: 'pipe',
    },
  );
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  rmSync(dir, { recursive: true });
  const pct = (p: string) => {
    const m = out.match(new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`));
    return m ? ms(m[1] as string, m[2] as string) : Number.NaN;
  };
  const non2xx = out.match(/Non-2xx or 3xx responses: (\d+)/);
  if (non2xx) throw new Error(`${url}: ${non2xx[1]} failed responses\n${out}`);
  return { rps: Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1]), p50: pct('50'), p99: pct('99') };
}

export async function benchProxyOverhead(seconds = 5) {
  const port = await freePort();
  const fake = Bun.spawn(
    ['bun', 'tests/support/fake-upstream.ts', String(port), String(UPSTREAM_LATENCY_MS), '0'],
    {
      stdout: 'ignore',
    },
  );
  const upstream = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'beacon-proxy-bench-'));
  const proxy = await startService('proxy', {
    BEACON_DATA_DIR: dataDir,
    BEACON_UPSTREAM_OPENAI_URL: upstream,
    BEACON_UPSTREAM_ANTHROPIC_URL: upstream,
  });
  try {
    const created = await post(`${proxy.url}/api/keys`, { user: 'bench' });
    const { key } = (await created.json()) as { key: string };
    const auth = { authorization: `Bearer ${key}` };
    console.log(
      `\n== proxy-overhead: wrk, ${seconds}s each, fake upstream answering after ${UPSTREAM_LATENCY_MS} ms`,
    );
    // One at a time, light load (CPU to spare) and heavy load (wrk, upstream and proxy saturating this machine's cores).
    for (const [connections, stream] of [
      [1, false],
      [1, true],
      [4, false],
      [4, true],
      [32, false],
      [32, true],
    ] as const) {
      const body = JSON.stringify({
        model: 'gpt-4o',
        stream,
        ...(stream ? { stream_options: { include_usage: true } } : {}),
        messages: [{ role: 'user', content: 'hello' }],
      });
      const direct = await wrkPost(`${upstream}/v1/chat/completions`, body, {}, seconds, connections);
      const proxied = await wrkPost(`${proxy.url}/v1/chat/completions`, body, auth, seconds, connections);
      console.log(
        `-c${String(connections).padEnd(2)} ${stream ? 'streaming    ' : 'non-streaming'}  direct ${direct.rps.toFixed(0)} req/s p50 ${direct.p50.toFixed(2)} ms p99 ${direct.p99.toFixed(2)} ms | proxied ${proxied.rps.toFixed(0)} req/s p50 ${proxied.p50.toFixed(2)} ms p99 ${proxied.p99.toFixed(2)} ms | added p50 ${(proxied.p50 - direct.p50).toFixed(2)} ms p99 ${(proxied.p99 - direct.p99).toFixed(2)} ms | throughput ratio ${(proxied.rps / direct.rps).toFixed(3)}`,
      );
    }
  } finally {
    await proxy.stop();
    fake.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.main) await benchProxyOverhead();
