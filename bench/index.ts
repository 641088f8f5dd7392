import { benchHttpOverhead } from './http-overhead';

await benchHttpOverhead();
