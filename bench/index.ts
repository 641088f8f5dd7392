import { benchHttpOverhead } from './http-overhead';
import { benchProxyOverhead } from './proxy-overhead';
import { benchStatsCollector } from './stats-collector';

await benchHttpOverhead();
await benchProxyOverhead();
await benchStatsCollector();
