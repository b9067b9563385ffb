import { ConfigError, type ServiceOptions } from '@fleet/chassis';
import { registerApi } from './api.js';
import { openAuditLog } from './audit.js';
import { Collector } from './collector.js';
import { type ConsoleOwnConfig, consoleSchema, parseServices } from './config.js';
import { registerStatic } from './static.js';

export const CONSOLE_VERSION = '0.1.0';

/** The Fleet console: the page, its JSON API, the collector, and the fleet's flag store. */
export const consoleOptions: ServiceOptions<ConsoleOwnConfig> = {
  name: 'console',
  version: CONSOLE_VERSION,
  config: consoleSchema,
  async routes(app, service) {
    const own = service.config.console;
    const { services, problems } = parseServices(own.services);
    if (own.pollMs < 50) problems.push('console.pollMs: must be at least 50 ms');
    if (own.requestTimeoutMs < 10) problems.push('console.requestTimeoutMs: must be at least 10 ms');
    if (problems.length > 0) throw new ConfigError(problems);
    if (!own.token) service.log.warn('CONSOLE_TOKEN is not set: admin reads of the services will answer 401');

    const audit = await openAuditLog(service.config.flags);
    const collector = new Collector({
      services,
      token: own.token,
      pollMs: own.pollMs,
      requestTimeoutMs: own.requestTimeoutMs,
      log: service.log,
    });
    service.onShutdown('console-audit', () => audit.close());
    service.onShutdown('console-collector', () => collector.stop());
    await registerStatic(app);
    registerApi(app, { service, collector, audit });
    // The console is part of the fleet too: once it listens, it watches itself (health, metrics and
    // admin routes are on its main listener unless ADMIN_PORT moves them).
    app.addHook('onListen', async () => {
      const address = app.server.address();
      if (service.config.admin.port !== 0 || !address || typeof address !== 'object') return;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      const local = address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '[::1]' : host;
      collector.addTarget({ name: 'console', url: `http://${local}:${address.port}`, kind: 'service' });
    });
    collector.start();
  },
};
