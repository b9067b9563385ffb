import { runService } from '@fleet/chassis';
import { hello } from './service.js';

await runService(hello);
