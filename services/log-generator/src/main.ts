import { runService } from '@fleet/chassis';
import { DEFAULT_PORT, serviceOptions } from './service.js';

// PORT (environment), --port (argument) or a CONFIG_FILE override the default port.
await runService({
  ...serviceOptions,
  configSources: { env: { PORT: String(DEFAULT_PORT), ...process.env } },
});
