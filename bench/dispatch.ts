/**
 * Round-trip overhead of gateway + kernel (in its container) + proxy over the fake upstream's own
 * latency: the same streaming completion asked of the fake upstream directly and through
 * POST /api/message (NATS transport), at 1 and at 20 concurrent dispatches, with the CPU each process of
 * the path spent per dispatch (gateway, the kernel's container, proxy, nats-server). Needs Docker and nats-server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeContainers } from '../tests/support/docker';
import { post } from '../tests/support/http';
import { startStack } from '../tests/support/stack';
import { cpuMicros } from './support';

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
    const kernelPid = Number((await Bun.$`docker inspect -f {{.State.Pid}} beacon-${handle}`.text()).trim());
    const processes = {
      gateway: stack.gateway.pid,
      kernel: kernelPid,
      proxy: stack.proxy.pid,
      nats: stack.nats.pid,
    };
    const cpuNow = () => Object.values(processes).map(cpuMicros);
    console.log(
      '\n== dispatch: POST /api/message → NATS → kernel container → proxy → fake upstream (3 chunks)',
    );
    for (const concurrency of [1, 20]) {
      const total = concurrency === 1 ? 200 : 600;
      const base = await measure(concurrency, total, direct);
      const before = cpuNow();
      const full = await measure(concurrency, total, dispatched);
      const spent = cpuNow().map((after, i) => (after - (before[i] ?? 0)) / total);
      const perProcess = Object.keys(processes).map((name, i) => `${name} ${spent[i]?.toFixed(0)}`);
      const cpuTotal = spent.reduce((a, b) => a + b, 0);
      console.log(
        `concurrency ${String(concurrency).padStart(2)}: upstream alone p50 ${base.p50.toFixed(2)} ms p99 ${base.p99.toFixed(2)} ms | dispatch p50 ${full.p50.toFixed(2)} ms p99 ${full.p99.toFixed(2)} ms | overhead p50 ${(full.p50 - base.p50).toFixed(2)} ms p99 ${(full.p99 - base.p99).toFixed(2)} ms (ratio to upstream alone ${(full.p50 / base.p50).toFixed(1)}x)`,
      );
      console.log(`  CPU per dispatch, µs: ${perProcess.join(' | ')} | total ${cpuTotal.toFixed(0)}`);
    }
  } finally {
    await removeContainers(handle);
    await stack.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) await benchDispatch();
