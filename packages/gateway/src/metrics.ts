import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The gateway's metric handles (docs/metrics.md), on the gateway's own registry. */
export function createMetrics(registry: Registry) {
  const registers = [registry];
  return {
    dispatchTotal: new Counter({
      name: 'gateway_kernel_dispatch_total',
      help: 'Messages dispatched to kernels, by source and outcome.',
      labelNames: ['source', 'status'],
      registers,
    }),
    dispatchDuration: new Histogram({
      name: 'gateway_kernel_dispatch_duration_seconds',
      help: 'Time from dispatch to the kernel result, in seconds.',
      labelNames: ['source'],
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers,
    }),
    dispatchQueueDepth: new Gauge({
      name: 'gateway_dispatch_queue_depth',
      help: 'Dispatches accepted and not yet finished.',
      registers,
    }),
    aiCost: new Counter({
      name: 'gateway_ai_cost_usd_total',
      help: 'AI cost reported by kernels, in USD, by model.',
      labelNames: ['model'],
      registers,
    }),
    aiTokens: new Counter({
      name: 'gateway_ai_tokens_total',
      help: 'AI tokens reported by kernels, by model and direction.',
      labelNames: ['model', 'direction'],
      registers,
    }),
    wsConnections: new Gauge({
      name: 'gateway_ws_connections_active',
      help: 'Open web-shell WebSocket connections.',
      registers,
    }),
    wsBadFrames: new Counter({
      name: 'gateway_ws_frames_invalid_total',
      help: 'Web-shell frames refused because they were not a valid message.',
      registers,
    }),
    sseClients: new Gauge({
      name: 'gateway_sse_clients_active',
      help: 'Connected SSE clients on /api/events.',
      registers,
    }),
    sseEvents: new Counter({
      name: 'gateway_sse_events_total',
      help: 'Events broadcast on SSE, by type.',
      labelNames: ['type'],
      registers,
    }),
    sseDropped: new Counter({
      name: 'gateway_sse_events_dropped_total',
      help: 'SSE events dropped because a client fell behind its queue.',
      registers,
    }),
    busMessages: new Counter({
      name: 'gateway_bus_messages_total',
      help: 'Bus messages received, by kind.',
      labelNames: ['kind'],
      registers,
    }),
    busForeign: new Counter({
      name: 'gateway_bus_messages_foreign_total',
      help: "Kernel messages dropped because their subject's handle is not their task's (a forged answer), by kind.",
      labelNames: ['kind'],
      registers,
    }),
    busInvalid: new Counter({
      name: 'gateway_bus_messages_invalid_total',
      help: 'Bus messages dropped because their payload failed validation, by kind.',
      labelNames: ['kind'],
      registers,
    }),
    alertsReceived: new Counter({
      name: 'gateway_alerts_received_total',
      help: 'Alerts received on the webhook, by alert name and status.',
      labelNames: ['alertname', 'status'],
      registers,
    }),
    artifactOps: new Counter({
      name: 'gateway_artifact_operations_total',
      help: 'Artifact store operations, by op and status.',
      labelNames: ['op', 'status'],
      registers,
    }),
    interactionLogErrors: new Counter({
      name: 'gateway_interaction_log_errors_total',
      help: 'Interaction log lines the disk refused at first (they wait and are written once it takes them).',
      registers,
    }),
    interactionLogDropped: new Counter({
      name: 'gateway_interaction_log_dropped_total',
      help: 'Interaction log lines dropped: more were waiting for the disk than it keeps (10,000).',
      registers,
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createMetrics>;
