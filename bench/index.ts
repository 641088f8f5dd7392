import { benchDispatch } from './dispatch';
import { benchHttpOverhead } from './http-overhead';
import { benchProxyOverhead } from './proxy-overhead';
import { benchSseFanout } from './sse-fanout';
import { benchStatsCollector } from './stats-collector';

await benchHttpOverhead();
await benchProxyOverhead();
await benchSseFanout();
await benchStatsCollector();
await benchDispatch();
