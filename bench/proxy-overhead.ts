/**
 * The same requests sent straight to the fake upstream and through the proxy (its real main.ts), in one
 * run, non-streaming and streaming, under wrk: added latency p50/p99 and the throughput ratio.
 * The fake upstream answers after UPSTREAM_LATENCY_MS, like a (very fast) real provider.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@beacon/core';
import { Registry } from 'prom-client';
import { openDatabase } from '../packages/proxy/src/db';
import { createMetrics } from '../packages/proxy/src/metrics';
import { createQuotaGuard } from '../packages/proxy/src/quotas/guard';
import { createUsageStore } from '../packages/proxy/src/usage-store';
import { post } from '../tests/support/http';
import { freePort } from '../tests/support/ports';
import { startPostgres } from '../tests/support/postgres';
import { startService } from '../tests/support/service';
import { cpuMicros } from './support';

const UPSTREAM_LATENCY_MS = 20;

interface WrkResult {
  rps: number;
  requests: number;
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
  return {
    rps: Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1]),
    requests: Number(out.match(/(\d+) requests in/)?.[1]),
    p50: pct('50'),
    p99: pct('99'),
  };
}

type Api = 'chat' | 'responses';
type Load = readonly [connections: number, stream: boolean, api?: Api];
/**
 * One at a time, light load (CPU to spare) and heavy load (wrk, upstream and proxy saturating this machine's
 * cores); chat completions, and the Responses API streaming beside chat streaming.
 */
const LOADS: Load[] = [
  [1, false],
  [1, true],
  [1, true, 'responses'],
  [4, false],
  [4, true],
  [4, true, 'responses'],
  [32, false],
  [32, true],
  [32, true, 'responses'],
];
const PATHS: Record<Api, string> = { chat: '/v1/chat/completions', responses: '/v1/responses' };

/** Added latency and throughput of one proxy store; returns each load's figures by its name. */
export async function benchProxyOverhead(
  seconds = 5,
  {
    databaseUrl,
    loads = LOADS,
    label = 'SQLite',
  }: { databaseUrl?: string; loads?: Load[]; label?: string } = {},
) {
  const figures = new Map<string, { added50: number; added99: number; ratio: number }>();
  const port = await freePort();
  const fake = Bun.spawn(
    ['bun', 'tests/support/fake-upstream.ts', String(port), String(UPSTREAM_LATENCY_MS), '0'],
    {
      stdout: 'ignore',
    },
  );
  const upstream = `http://127.0.0.1:${port}`;
  const barePort = await freePort();
  const bare = Bun.spawn(['bun', 'bench/bare-forwarder.ts', String(barePort), upstream], {
    stdout: 'ignore',
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'beacon-proxy-bench-'));
  const proxy = await startService('proxy', {
    BEACON_DATA_DIR: dataDir,
    // The default level, as operators run it: a line per call (warn measured ~55 µs of CPU per call less at c32).
    BEACON_LOG_LEVEL: 'info',
    BEACON_UPSTREAM_OPENAI_URL: upstream,
    BEACON_UPSTREAM_ANTHROPIC_URL: upstream,
    ...(databaseUrl ? { BEACON_DATABASE_URL: databaseUrl } : {}),
  });
  try {
    // Migrated (PostgreSQL) and ready before the first key.
    for (let i = 0; i < 200 && !(await fetch(`${proxy.url}/health/ready`)).ok; i++) await Bun.sleep(50);
    const created = await post(`${proxy.url}/api/keys`, { user: 'bench' });
    const { key } = (await created.json()) as { key: string };
    // A budget: every call reserves and settles, as an operator's users with quotas do.
    await fetch(`${proxy.url}/api/quotas/bench`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ dailyUsd: 1_000_000 }),
    });
    const auth = { authorization: `Bearer ${key}` };
    // What the process burns doing nothing (timers, metrics, GC), so a call is charged only its own CPU.
    const idleStart = cpuMicros(proxy.pid);
    await Bun.sleep(2000);
    const idlePerSecond = (cpuMicros(proxy.pid) - idleStart) / 2;
    console.log(
      `\n== proxy-overhead on ${label}: wrk, ${seconds}s each, fake upstream answering after ${UPSTREAM_LATENCY_MS} ms, a daily budget reserved per call`,
    );
    const bodyOf = (stream: boolean, api: Api = 'chat') =>
      JSON.stringify(
        api === 'responses'
          ? { model: 'gpt-4o', stream, input: 'hello', max_output_tokens: 4096 }
          : {
              model: 'gpt-4o',
              stream,
              ...(stream ? { stream_options: { include_usage: true } } : {}),
              messages: [{ role: 'user', content: 'hello' }],
            },
      );
    // Warmed up first, both of them, as a proxy that has run a while is: its code compiled by the JIT
    // (measured cold, the first load's CPU per call was several times what it is a minute later).
    for (const [stream, api] of [
      [false, 'chat'],
      [true, 'chat'],
      [true, 'responses'],
    ] as const)
      for (const [url, headers] of [
        [proxy.url, auth],
        [`http://127.0.0.1:${barePort}`, {}],
      ] as const)
        await wrkPost(`${url}${PATHS[api]}`, bodyOf(stream, api), headers, 3, 32);
    for (const [connections, stream, api = 'chat'] of loads) {
      const body = bodyOf(stream, api);
      const path = PATHS[api];
      const direct = await wrkPost(`${upstream}${path}`, body, {}, seconds, connections);
      const bareCpu = cpuMicros(bare.pid);
      const floor = await wrkPost(`http://127.0.0.1:${barePort}${path}`, body, {}, seconds, connections);
      const bareCpuPerCall = (cpuMicros(bare.pid) - bareCpu) / floor.requests;
      const cpuBefore = cpuMicros(proxy.pid);
      const proxied = await wrkPost(`${proxy.url}${path}`, body, auth, seconds, connections);
      const cpuPerCall = (cpuMicros(proxy.pid) - cpuBefore - idlePerSecond * seconds) / proxied.requests;
      console.log(
        `${label} -c${String(connections).padEnd(2)} ${api === 'responses' ? 'responses ' : ''}${stream ? 'streaming    ' : 'non-streaming'}   direct ${direct.rps.toFixed(0)} req/s p50 ${direct.p50.toFixed(2)} ms p99 ${direct.p99.toFixed(2)} ms | proxied ${proxied.rps.toFixed(0)} req/s p50 ${proxied.p50.toFixed(2)} ms p99 ${proxied.p99.toFixed(2)} ms | added p50 ${(proxied.p50 - direct.p50).toFixed(2)} ms p99 ${(proxied.p99 - direct.p99).toFixed(2)} ms | throughput ratio ${(proxied.rps / direct.rps).toFixed(3)} | proxy CPU ${cpuPerCall.toFixed(0)} µs/call (idle ${(idlePerSecond / 1000).toFixed(0)} ms/s not counted)`,
      );
      console.log(
        `    the runtime's floor, a bare Bun forwarder: added p50 ${(floor.p50 - direct.p50).toFixed(2)} ms p99 ${(floor.p99 - direct.p99).toFixed(2)} ms | throughput ratio ${(floor.rps / direct.rps).toFixed(3)} | CPU ${bareCpuPerCall.toFixed(0)} µs/call || the proxy over it: p50 +${(proxied.p50 - floor.p50).toFixed(2)} ms, CPU +${(cpuPerCall - bareCpuPerCall).toFixed(0)} µs/call`,
      );
      figures.set(
        `-c${connections} ${api === 'responses' ? 'responses ' : ''}${stream ? 'streaming' : 'non-streaming'}`,
        {
          added50: proxied.p50 - direct.p50,
          added99: proxied.p99 - direct.p99,
          ratio: proxied.rps / direct.rps,
        },
      );
    }
    for (const [connections] of loads.filter(([, , api]) => api === 'responses')) {
      const responses = figures.get(`-c${connections} responses streaming`);
      const chat = figures.get(`-c${connections} streaming`);
      if (!responses || !chat) continue;
      console.log(
        `${label} -c${connections} the Responses API streaming vs chat streaming (same run): added p50 ${responses.added50.toFixed(2)} vs ${chat.added50.toFixed(2)} ms | throughput ratio ${responses.ratio.toFixed(3)} vs ${chat.ratio.toFixed(3)} (responses/chat ${(responses.ratio / chat.ratio).toFixed(3)})`,
      );
    }
    return figures;
  } finally {
    await proxy.stop();
    fake.kill();
    bare.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The proxy on PostgreSQL beside SQLite in one run (the same loads, each against its own direct baseline),
 * and one quota reservation (reserve + settle) on each store, in process.
 */
export async function benchProxyStores(seconds = 5) {
  const pg = await startPostgres();
  try {
    const loads: Load[] = [
      [1, false],
      [1, true],
      [32, false],
      [32, true],
    ];
    const sqlite = await benchProxyOverhead(seconds, { loads });
    const postgres = await benchProxyOverhead(seconds, {
      loads,
      label: 'PostgreSQL',
      databaseUrl: await pg.database('bench'),
    });
    console.log('\n== proxy on PostgreSQL vs SQLite (same run)');
    for (const [name, p] of postgres) {
      const s = sqlite.get(name);
      if (!s) continue;
      console.log(
        `${name.padEnd(16)} added p50 ${p.added50.toFixed(2)} vs ${s.added50.toFixed(2)} ms, p99 ${p.added99.toFixed(2)} vs ${s.added99.toFixed(2)} ms | throughput ratio ${p.ratio.toFixed(3)} vs ${s.ratio.toFixed(3)} (PostgreSQL/SQLite ${(p.ratio / s.ratio).toFixed(3)})`,
      );
    }
    const reserveSqlite = await reservationCost();
    const reservePg = await reservationCost(await pg.database('reserve'));
    console.log(
      `one quota reservation (reserve + settle, sequential): SQLite ${reserveSqlite.toFixed(1)} µs | PostgreSQL ${reservePg.toFixed(1)} µs | ratio ${(reservePg / reserveSqlite).toFixed(2)}`,
    );
  } finally {
    await pg.stop();
  }
}

/** µs per reserve-and-settle of one user with a budget, on an in-process store. */
async function reservationCost(databaseUrl?: string, n = 2000) {
  const log = createLogger({ service: 'proxy', level: 'silent' });
  const store = openDatabase(
    join(mkdtempSync(join(tmpdir(), 'beacon-reserve-')), 'proxy.sqlite'),
    databaseUrl,
  );
  await store.ready;
  const usage = createUsageStore(store, log);
  const quotas = createQuotaGuard(store, usage, createMetrics(new Registry()), log);
  await quotas.set('bench', { dailyUsd: 1_000_000 });
  const once = async () => {
    // As the forwarder asks: the user's limits read first (the default reservation needs them).
    const r = await quotas.reserve('bench', 'bench', 0.001, await quotas.limitsOf('bench'));
    if (!r.ok) throw new Error('refused');
    r.settle(0.0005);
  };
  for (let i = 0; i < 100; i++) await once();
  const started = performance.now();
  for (let i = 0; i < n; i++) await once();
  const us = ((performance.now() - started) * 1000) / n;
  await Bun.sleep(50);
  await store.close();
  return us;
}

if (import.meta.main) await benchProxyStores();
