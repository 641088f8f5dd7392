import { benchHttpOverhead } from './http-overhead';
import { benchStatsCollector } from './stats-collector';

await benchHttpOverhead();
await benchStatsCollector();
