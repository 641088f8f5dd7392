import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Hono } from 'hono';
import { withoutAddresses } from './errors';

export type CheckStatus = 'ok' | 'warning' | 'error';
export type HealthStatus = 'healthy' | 'degraded' | 'down';

export interface CheckResult {
  status: CheckStatus;
  latency_ms: number;
  message?: string;
}

export interface Probe {
  name: string;
  /** Any failing probe degrades /health; a required one makes /health `down` and /ready 503. */
  required?: boolean;
  timeoutMs?: number;
  /** Resolve when healthy (optionally with a ProbeOutcome, e.g. a warning); throw when not. */
  check: () => Promise<unknown>;
}

/**
 * The disk under `dir` takes a write: 64 KiB written and removed (a full or read-only disk fails /ready, not
 * only the writes that follow). `dir` is made if missing.
 */
export function diskProbe(dir: string, name = 'disk'): Probe {
  const file = join(dir, '.beacon-write-probe');
  const block = Buffer.alloc(64 * 1024);
  return {
    name,
    required: true,
    timeoutMs: 2000,
    check: async () => {
      try {
        await mkdir(dir, { recursive: true });
        await writeFile(file, block);
        await rm(file, { force: true });
      } catch (err) {
        const code = (err as { code?: string }).code;
        throw new Error(
          code === 'ENOSPC'
            ? 'the disk is full'
            : code === 'EROFS'
              ? 'the disk is read-only'
              : `the disk refuses writes (${code ?? 'error'})`,
        );
      }
    },
  };
}

export interface ProbeOutcome {
  status?: CheckStatus;
  message?: string;
}

export interface ServiceIdentity {
  name: string;
  version: string;
  commit?: string;
}

async function runProbe(probe: Probe): Promise<CheckResult> {
  const start = performance.now();
  const timeoutMs = probe.timeoutMs ?? 2000;
  let timer: Timer | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const result = (await Promise.race([probe.check(), timeout])) as ProbeOutcome | undefined;
    const latency_ms = Math.round(performance.now() - start);
    return {
      status: result?.status ?? 'ok',
      latency_ms,
      ...(result?.message ? { message: result.message } : {}),
    };
  } catch (err) {
    // /health is unauthenticated: it names what failed, never where it lives.
    const message = withoutAddresses(err instanceof Error ? err.message : String(err));
    return { status: 'error', latency_ms: Math.round(performance.now() - start), message };
  } finally {
    clearTimeout(timer);
  }
}

export async function runProbes(probes: Probe[]) {
  const results = await Promise.all(probes.map(runProbe));
  const checks: Record<string, CheckResult> = {};
  probes.forEach((p, i) => {
    checks[p.name] = results[i] as CheckResult;
  });
  const requiredDown = probes.some((p, i) => p.required && results[i]?.status === 'error');
  const anyBad = results.some((r) => r.status !== 'ok');
  // A required dependency away: the service cannot do its job (down); an optional one: it serves less.
  const status: HealthStatus = requiredDown ? 'down' : anyBad ? 'degraded' : 'healthy';
  return { status, ready: !requiredDown, checks };
}

/** GET /health, /ready and /version (docs/observability.md), and the Kubernetes names /health/live and /health/ready. */
export function healthRoutes(identity: ServiceIdentity, probes: Probe[]) {
  const ready = async () => {
    const { ready, checks } = await runProbes(probes);
    return { body: { ready, checks }, status: ready ? (200 as const) : (503 as const) };
  };
  return (
    new Hono()
      // Liveness asks nothing of the dependencies: a process that answers is alive (restart it if not).
      .get('/health/live', (c) => c.json({ status: 'live', timestamp: new Date().toISOString() }))
      .get('/health/ready', async (c) => {
        const { body, status } = await ready();
        return c.json(body, status);
      })
      .get('/health', async (c) => {
        const { status, checks } = await runProbes(probes);
        const body = { status, timestamp: new Date().toISOString(), version: identity.version, checks };
        return c.json(body, status === 'down' ? 503 : 200);
      })
      .get('/ready', async (c) => {
        const { body, status } = await ready();
        return c.json(body, status);
      })
      .get('/version', (c) =>
        c.json({
          name: identity.name,
          version: identity.version,
          ...(identity.commit ? { commit: identity.commit } : {}),
        }),
      )
  );
}

/** Langfuse in /health (proxy and platform): degraded, never down, when its public API does not answer. */
export const langfuseProbe = (url: string): Probe => ({
  name: 'langfuse',
  timeoutMs: 3000,
  check: async () => {
    const res = await fetch(`${url.replace(/\/$/, '')}/api/public/health`, {
      signal: AbortSignal.timeout(3000),
    });
    if (!res.ok) throw new Error(`Langfuse answered ${res.status}`);
  },
});
