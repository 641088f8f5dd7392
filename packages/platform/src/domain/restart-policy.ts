/** Docker's restart policy and Kubernetes' CrashLoopBackOff: a delay doubling from `initialMs` to `maxMs`. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

/**
 * The attempt number after an exit: a container that stayed up at least `maxMs` starts over (its
 * earlier crashes were another incident); otherwise the count goes on.
 */
export function nextAttempt(previous: number | undefined, upMs: number, policy: BackoffPolicy): number {
  if (previous === undefined || upMs >= policy.maxMs) return 0;
  return previous + 1;
}

/** How long to wait before restart number `attempt` (0-based). */
export function restartDelay(attempt: number, policy: BackoffPolicy): number {
  return Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
}
