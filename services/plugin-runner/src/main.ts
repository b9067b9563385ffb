import { runService } from '@fleet/chassis';
import { pluginRunnerService } from './service.js';

await runService(pluginRunnerService());
