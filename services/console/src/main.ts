import { runService } from '@fleet/chassis';
import { consoleOptions } from './service.js';

await runService(consoleOptions);
