import { benchDispatch } from './dispatch';
import { benchHistory } from './history';
import { benchHttpOverhead } from './http-overhead';
import { benchLifecycle } from './lifecycle';
import { benchProxyOverhead, benchProxyStores } from './proxy-overhead';
import { benchSseFanout } from './sse-fanout';
import { benchStatsCollector } from './stats-collector';
import { onFirstCore } from './support';

await onFirstCore(() => benchHttpOverhead());
await benchProxyOverhead();
await benchProxyStores();
await benchSseFanout();
await benchStatsCollector();
await benchHistory();
await benchDispatch();
await benchLifecycle();
