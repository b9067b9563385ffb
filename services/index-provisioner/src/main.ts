import { runService } from '@fleet/chassis';
import { indexProvisioner } from './service.js';

await runService(indexProvisioner);
