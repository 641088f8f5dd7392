import type { Api } from './apis';
import { microUsd, type Refusal } from './budget';
import { type OutputSource, outputField } from './output-limit';

/** "5 h 3 min", "42 s": how long until a window starts again. */
function inWords(seconds: number) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (h) return `${h} h ${m} min`;
  return m ? `${m} min` : `${seconds} s`;
}

/**
 * A budget's 429 in full: what the call would reserve and why (its own limit, or the default applied and how
 * to change it), what is left, and when the window starts again — never only "has spent $0.0000".
 */
export function budgetRefusal(
  api: Api,
  refusal: Refusal,
  reserve: { usd: number; tokens: number; source: OutputSource },
) {
  const budget = refusal.budget;
  if (!budget) return { message: refusal.message, detail: undefined };
  const field = outputField(api);
  const why: Record<OutputSource, string> = {
    request: `its own limit, ${field}`,
    quota: `the quota's defaultMaxTokens, for a call without ${field}`,
    default: `the default for a call without ${field} (BEACON_DEFAULT_MAX_TOKENS); send ${field}, or set defaultMaxTokens on the user's quota`,
    model: `the model's own output limit, for a call without ${field}; send ${field}, or set defaultMaxTokens on the user's quota`,
  };
  const left = microUsd(Math.max(0, budget.limitUsd - budget.spentUsd - budget.reservedUsd));
  const held = budget.reservedUsd > 0 ? ` ($${budget.reservedUsd.toFixed(6)} held by calls in flight)` : '';
  const message =
    `${refusal.message}. This call would reserve $${reserve.usd.toFixed(6)}: up to ${reserve.tokens} output tokens ` +
    `(${why[reserve.source]}) and its input at the model's rates; $${left.toFixed(6)} is left${held}. ` +
    `The ${refusal.reason} budget starts again at ${budget.resetsAt} (in ${inWords(refusal.retryAfterSeconds)}).`;
  const detail = {
    window: refusal.reason,
    limitUsd: budget.limitUsd,
    spentUsd: budget.spentUsd,
    reservedUsd: budget.reservedUsd,
    leftUsd: left,
    callReservesUsd: microUsd(reserve.usd),
    outputTokens: reserve.tokens,
    outputTokensFrom: reserve.source,
    resetsAt: budget.resetsAt,
  };
  return { message, detail };
}
