import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The proxy's metric handles (docs/metrics.md), on the proxy's own registry. */
export function createMetrics(registry: Registry) {
  const registers = [registry];
  return {
    apiCalls: new Counter({
      name: 'proxy_api_calls_total',
      help: 'AI API calls through the proxy, by user, model, provider and status.',
      labelNames: ['user', 'model', 'provider', 'status'],
      registers,
    }),
    apiCost: new Counter({
      name: 'proxy_api_cost_usd_total',
      help: 'AI cost in USD, by user and model.',
      labelNames: ['user', 'model'],
      registers,
    }),
    apiTokens: new Counter({
      name: 'proxy_api_tokens_total',
      help: 'AI tokens, by user, model and direction (input, output, cache_read, cache_write; reasoning is part of output).',
      labelNames: ['user', 'model', 'direction'],
      registers,
    }),
    quotaRejections: new Counter({
      name: 'proxy_quota_rejections_total',
      help: 'Calls refused because the user is over a quota.',
      labelNames: ['user'],
      registers,
    }),
    quotaUtilization: new Gauge({
      name: 'proxy_quota_utilization_ratio',
      help: 'Spend as a fraction of the budget, by user and window.',
      labelNames: ['user', 'window'],
      registers,
    }),
    upstreamDuration: new Histogram({
      name: 'proxy_upstream_duration_seconds',
      help: 'Upstream call duration, by provider and model.',
      labelNames: ['provider', 'model'],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120],
      registers,
    }),
    unpricedCalls: new Counter({
      name: 'proxy_unpriced_calls_total',
      help: 'Calls to a model with no price (charged $0), by model (capped like user).',
      labelNames: ['model'],
      registers,
    }),
    upstreamFailovers: new Counter({
      name: 'proxy_upstream_failovers_total',
      help: 'Upstream answers (429, 5xx, unreachable) after which a call tried another key or upstream.',
      labelNames: ['upstream'],
      registers,
    }),
    upstreamErrors: new Counter({
      name: 'proxy_upstream_errors_total',
      help: 'Upstream failures, by provider and kind.',
      labelNames: ['provider', 'kind'],
      registers,
    }),
  };
}

export type ProxyMetrics = ReturnType<typeof createMetrics>;
