/**
 * Round-trip overhead of gateway + kernel (in its container) + proxy over the fake upstream's own
 * latency: the same streaming completion asked of the fake upstream directly and through
 * POST /api/message (NATS transport), at 1 and at 20 concurrent dispatches. Needs Docker and nats-server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeContainers } from '../tests/support/docker';
import { post } from '../tests/support/http';
import { startStack } from '../tests/support/stack';

const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
};

async function measure(concurrency: number, total: number, once: () => Promise<void>) {
  const times: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) {
        const t = performance.now();
        await once();
        times.push(performance.now() - t);
      }
    }),
  );
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

export async function benchDispatch() {
  const work = mkdtempSync(join(tmpdir(), 'beacon-bench-dispatch-'));
  const stack = await startStack(work);
  const handle = 'bench-dispatch';
  try {
    await stack.provision(handle, 'bench');
    const body = JSON.stringify({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    const direct = async () => {
      const res = await fetch(`${stack.fake.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      await res.text();
    };
    const dispatched = async () => {
      const res = await post(`${stack.gateway.url}/api/message`, { handle, text: 'hi' });
      if (res.status !== 200) throw new Error(`dispatch failed: ${res.status} ${await res.text()}`);
      await res.json();
    };
    for (let i = 0; i < 20; i++) await dispatched(); // warm up every hop
    console.log(
      '\n== dispatch: POST /api/message → NATS → kernel container → proxy → fake upstream (3 chunks)',
    );
    for (const concurrency of [1, 20]) {
      const total = concurrency === 1 ? 200 : 600;
      const base = await measure(concurrency, total, direct);
      const full = await measure(concurrency, total, dispatched);
      console.log(
        `concurrency ${String(concurrency).padStart(2)}: upstream alone p50 ${base.p50.toFixed(2)} ms p99 ${base.p99.toFixed(2)} ms | dispatch p50 ${full.p50.toFixed(2)} ms p99 ${full.p99.toFixed(2)} ms | overhead p50 ${(full.p50 - base.p50).toFixed(2)} ms p99 ${(full.p99 - base.p99).toFixed(2)} ms`,
      );
    }
  } finally {
    await removeContainers(handle);
    await stack.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) await benchDispatch();
