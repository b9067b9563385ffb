import type { FastifyPluginCallback } from 'fastify';
import fp from 'fastify-plugin';
import type { Logger } from 'pino';
import { LOG_LEVELS, type LogLevel } from '../config/schema.js';
import { redactSecrets } from '../logging/redact.js';

export interface AdminPluginOptions {
  /** Scope a token must carry. */
  scope: string;
  /** The service's root logger; changing its level changes every logger derived from it. */
  logger: Logger;
  /**
   * Static identity plus config already rendered with `sensitive` values redacted. Keys that look
   * like credentials (`*_password`, `token`, ...) are redacted again here, as a second line.
   */
  info: () => Record<string, unknown>;
}

/** GET /admin/info, GET|PUT /admin/log-level; every route needs the admin scope. */
const admin: FastifyPluginCallback<AdminPluginOptions> = (app, options, done) => {
  const auth = { scopes: [options.scope] };
  const { logger } = options;
  app.get('/admin/info', { auth }, async () => redactSecrets(options.info()));
  app.get('/admin/log-level', { auth }, async () => ({ level: logger.level, levels: LOG_LEVELS }));
  app.put<{ Body: { level: LogLevel } }>(
    '/admin/log-level',
    {
      auth,
      schema: {
        body: {
          type: 'object',
          required: ['level'],
          additionalProperties: false,
          properties: { level: { type: 'string', enum: [...LOG_LEVELS] } },
        },
      },
    },
    async (request) => {
      const previous = logger.level;
      const { level } = request.body;
      const record = () =>
        logger.warn({ previous, level, by: request.principal?.subject }, 'log level changed at runtime');
      // Recorded while warn lines are still written: before the change when it silences them
      logger.level = level;
      const silenced = !logger.isLevelEnabled('warn');
      if (silenced) {
        logger.level = previous;
        record();
        logger.level = level;
      } else {
        record();
      }
      return { level: logger.level, previous };
    },
  );
  done();
};

export const adminPlugin = fp(admin, { name: 'fleet-admin', fastify: '5.x', dependencies: ['fleet-auth'] });
