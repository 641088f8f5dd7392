/**
 * 10,000 SSE clients on loopback against the gateway (its real main.ts, in its own
 * process); events are published at a fixed rate (through POST /api/alert, which broadcasts one event each). Prints delivered
 * events/s, publish-to-receive p50/p99 and the gateway's RSS; then the same with one client that never
 * reads, whose presence must keep the others' p99 within 2× of the run without it.
 * The timed clients use fetch, which allows 256 connections at once by default: run with
 * BUN_CONFIG_MAX_HTTP_REQUESTS=4096 (`bun run bench` sets it). 10,000 sockets need `ulimit -n` above that.
 */
import { readFileSync } from 'node:fs';
import { SseParser } from '@beacon/core';
import type { Socket } from 'bun';
import { startService } from '../tests/support/service';

const CLIENTS = 10_000;
const RATE = 20; // events per second
const SECONDS = 8;

/** Clients whose events are parsed and timed: one in this many (all of them at 1,000 clients or fewer). */
const SAMPLE_EVERY = CLIENTS > 1000 ? 10 : 1;
const EVENT = Buffer.from('event: alert.firing');

/** An SSE client as a bare socket: GET /api/events, then the alert events that arrive counted, not parsed. */
function countingClient(port: string, count: (n: number) => void): Promise<Socket> {
  let tail = Buffer.alloc(0);
  return Bun.connect({
    hostname: '127.0.0.1',
    port: Number(port),
    socket: {
      open(socket) {
        socket.write('GET /api/events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n');
      },
      data(_socket, chunk) {
        // An event's name can be split between two reads: the end of the last read is searched again.
        const text = tail.length ? Buffer.concat([tail, chunk]) : chunk;
        let n = 0;
        for (let at = text.indexOf(EVENT); at !== -1; at = text.indexOf(EVENT, at + EVENT.length)) n++;
        tail = Buffer.from(text.subarray(Math.max(0, text.length - EVENT.length + 1)));
        count(n);
      },
    },
  });
}

const rssMb = (pid: number) =>
  Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) / 1024;

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

async function run(url: string, pid: number, stalled: boolean) {
  const latencies: number[] = [];
  const controllers: AbortController[] = [];
  let delivered = 0;
  const port = new URL(url).port;
  const staller = stalled
    ? Bun.spawn([
        'bash',
        '-c',
        `exec 3<>/dev/tcp/127.0.0.1/${port}; printf 'GET /api/events HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' >&3; sleep 600`,
      ])
    : undefined;
  const sockets: Socket[] = [];
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, i) => {
      // Every client reads all it is sent; one in SAMPLE_EVERY also parses it and times each event, the
      // others are plain sockets that count what arrives. One process parsing 10,000 fetch streams would
      // measure itself (it ran out of CPU first): real clients each parse their own.
      if (i % SAMPLE_EVERY !== 0) {
        sockets.push(await countingClient(port, (n) => (delivered += n)));
        return;
      }
      const controller = new AbortController();
      controllers.push(controller);
      const res = await fetch(`${url}/api/events`, { signal: controller.signal });
      const reader = res.body?.getReader();
      const parser = new SseParser();
      void (async () => {
        try {
          for (let r = await reader?.read(); r && !r.done; r = await reader?.read()) {
            const now = performance.timeOrigin + performance.now();
            for (const e of parser.push(r.value)) {
              if (e.event !== 'alert.firing') continue;
              const sent = Number(JSON.parse(e.data).labels.sent);
              latencies.push(now - sent);
              delivered++;
            }
          }
        } catch {}
      })();
    }),
  );
  const started = performance.now();
  const payload = 'x'.repeat(512);
  // Sent on schedule, not each after the last one's answer: a gateway slow to answer would lower the rate.
  const posts: Promise<Response>[] = [];
  for (let i = 0; i < RATE * SECONDS; i++) {
    const due = started + (i * 1000) / RATE;
    await Bun.sleep(Math.max(0, due - performance.now()));
    const sent = String(performance.timeOrigin + performance.now());
    const post = fetch(`${url}/api/alert`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        alerts: [
          { status: 'firing', labels: { alertname: 'Bench', sent }, annotations: { summary: payload } },
        ],
      }),
    });
    posts.push(post);
  }
  const publishedIn = (performance.now() - started) / 1000;
  for (const res of await Promise.all(posts))
    if (!res.ok) throw new Error(`POST /api/alert answered ${res.status}`);
  // Until every client has every event, or 5 s more: what is missing then is reported as missing.
  const expected = CLIENTS * RATE * SECONDS;
  for (let waited = 0; delivered < expected && waited < 5000; waited += 50) await Bun.sleep(50);
  const elapsed = (performance.now() - started) / 1000;
  const rss = rssMb(pid);
  for (const c of controllers) c.abort();
  for (const socket of sockets) socket.end();
  staller?.kill();
  const sorted = latencies.sort((a, b) => a - b);
  return {
    delivered,
    perSecond: delivered / elapsed,
    rate: (RATE * SECONDS) / publishedIn,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    rss,
  };
}

export async function benchSseFanout() {
  const gateway = await startService('gateway', { BEACON_PLATFORM_URL: 'http://127.0.0.1:1' });
  try {
    console.log(`\n== sse-fanout: ${CLIENTS} clients, ${RATE} events/s for ${SECONDS}s, 512-byte payloads`);
    const expected = CLIENTS * RATE * SECONDS;
    const base = await run(gateway.url, gateway.pid, false);
    const withStall = await run(gateway.url, gateway.pid, true);
    for (const [name, r] of [
      ['all reading', base],
      ['one stalled', withStall],
    ] as const) {
      console.log(
        `${name.padEnd(12)} published ${r.rate.toFixed(1)} events/s, delivered ${r.delivered}/${expected} (${r.perSecond.toFixed(0)} events/s)  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  gateway RSS ${r.rss.toFixed(0)} MiB`,
      );
    }
    console.log(`p99 with a stalled client / without: ${(withStall.p99 / base.p99).toFixed(2)} (goal ≤ 2)`);
  } finally {
    await gateway.stop();
  }
}

if (import.meta.main) await benchSseFanout();
