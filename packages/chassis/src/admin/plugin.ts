import type { FastifyPluginCallback } from 'fastify';
import fp from 'fastify-plugin';
import type { Logger } from 'pino';
import { LOG_LEVELS, type LogLevel } from '../config/schema.js';

export interface AdminPluginOptions {
  /** Scope a token must carry. */
  scope: string;
  /** The service's root logger; changing its level changes every request logger created after. */
  logger: Logger;
  /** Static identity plus config already rendered with secrets redacted. */
  info: () => Record<string, unknown>;
}

/** GET /admin/info, GET|PUT /admin/log-level; every route needs the admin scope. */
const admin: FastifyPluginCallback<AdminPluginOptions> = (app, options, done) => {
  const auth = { scopes: [options.scope] };
  app.get('/admin/info', { auth }, async () => options.info());
  app.get('/admin/log-level', { auth }, async () => ({ level: options.logger.level }));
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
      const previous = options.logger.level;
      options.logger.level = request.body.level;
      options.logger.warn(
        { previous, level: request.body.level, by: request.principal?.subject },
        'log level changed at runtime',
      );
      return { level: options.logger.level, previous };
    },
  );
  done();
};

export const adminPlugin = fp(admin, { name: 'fleet-admin', fastify: '5.x', dependencies: ['fleet-auth'] });
