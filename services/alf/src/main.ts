import { runService } from '@fleet/chassis';
import { alf } from './service.js';

await runService(alf);
