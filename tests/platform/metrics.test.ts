import { createApp } from '../../packages/platform/src/app';
import { createMetrics } from '../../packages/platform/src/metrics';
import { describeServiceMetrics, quietLog } from '../support/service-metrics';

describeServiceMetrics({
  service: 'platform',
  ownMetric: 'platform_container_cpu_percent',
  foreignMetrics: ['gateway_', 'proxy_'],
  build: (registry, identity) =>
    createApp({ identity, registry, metrics: createMetrics(registry), log: quietLog }),
});
