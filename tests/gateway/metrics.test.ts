import { createApp } from '../../packages/gateway/src/app';
import { createMetrics } from '../../packages/gateway/src/metrics';
import { describeServiceMetrics, quietLog } from '../support/service-metrics';

describeServiceMetrics({
  service: 'gateway',
  ownMetric: 'gateway_kernel_dispatch_total',
  foreignMetrics: ['platform_', 'proxy_'],
  build: (registry, identity) =>
    createApp({ identity, registry, metrics: createMetrics(registry), log: quietLog }),
});
