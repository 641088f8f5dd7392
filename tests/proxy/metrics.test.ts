import { createApp } from '../../packages/proxy/src/app';
import { createMetrics } from '../../packages/proxy/src/metrics';
import { describeServiceMetrics, quietLog } from '../support/service-metrics';

describeServiceMetrics({
  service: 'proxy',
  ownMetric: 'proxy_api_calls_total',
  foreignMetrics: ['gateway_', 'platform_'],
  build: (registry, identity) =>
    createApp({ identity, registry, metrics: createMetrics(registry), log: quietLog }),
});
