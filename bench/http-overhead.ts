/**
 * One trivial Hono route served bare, with @hono/prometheus, and with Beacon's instrumentation,
 * side by side in one run under wrk (apt: wrk). Prints req/s of each and the ratio to bare.
 */
import { instrumentHttp } from '@beacon/core';
import { prometheus } from '@hono/prometheus';
import { Hono } from 'hono';
import { Registry } from 'prom-client';
import { freePort, onFirstCore, runWrk } from './support';

type Variant = { name: string; build: () => Hono };

const route = (app: Hono) => app.get('/api/things/:id', (c) => c.text('ok'));

const variants: Variant[] = [
  { name: 'bare', build: () => route(new Hono()) },
  {
    name: '@hono/prometheus',
    build: () => {
      const { registerMetrics } = prometheus({ registry: new Registry() });
      const app = new Hono();
      app.use('*', registerMetrics);
      return route(app);
    },
  },
  {
    name: 'beacon',
    build: () => {
      const app = new Hono();
      instrumentHttp(app, new Registry());
      return route(app);
    },
  },
];

export async function benchHttpOverhead(rounds = 5, seconds = 4) {
  const servers = await Promise.all(
    variants.map(async (v) => {
      const app = v.build();
      const server = Bun.serve({ hostname: '127.0.0.1', port: await freePort(), fetch: app.fetch });
      return { ...v, server, results: [] as number[] };
    }),
  );
  // Interleave rounds so drift on a shared machine hits every variant alike; keep the median.
  for (let r = 0; r < rounds; r++) {
    for (const s of servers)
      s.results.push(await runWrk(`http://127.0.0.1:${s.server.port}/api/things/123`, seconds));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const bare = median(servers[0]?.results ?? [1]);
  console.log('\n== http-overhead: one route, wrk -t1 -c32, median of %d rounds of %ds', rounds, seconds);
  for (const s of servers) {
    const rps = median(s.results);
    console.log(
      `${s.name.padEnd(18)} ${rps.toFixed(0).padStart(8)} req/s   ratio to bare ${(rps / bare).toFixed(3)}`,
    );
  }
  for (const s of servers) s.server.stop(true);
}

if (import.meta.main) await onFirstCore(() => benchHttpOverhead());
