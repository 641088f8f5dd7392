import { benchDispatch } from './dispatch';
import { benchHistory } from './history';
import { benchHttpOverhead } from './http-overhead';
import { benchLifecycle } from './lifecycle';
import { benchProxyOverhead, benchProxyStores } from './proxy-overhead';
import { benchSqliteWrites } from './sqlite-writes';
import { benchSseFanout } from './sse-fanout';
import { benchStatsCollector } from './stats-collector';
import { onFirstCore } from './support';

await onFirstCore(() => benchHttpOverhead());
await benchProxyOverhead();
await benchProxyStores();
await benchSqliteWrites();
await benchSseFanout();
await benchStatsCollector();
await benchHistory();
await benchDispatch();
await benchLifecycle();
