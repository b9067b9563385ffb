import type { FastifyPluginCallback } from 'fastify';
import fp from 'fastify-plugin';
import type { HealthRegistry } from './registry.js';

export interface HealthPluginOptions {
  registry: HealthRegistry;
}

/** GET /health/live (the process answers) and GET /health/ready (every critical check passes). */
const health: FastifyPluginCallback<HealthPluginOptions> = (app, { registry }, done) => {
  app.get('/health/live', { logLevel: 'warn' }, (_request, reply) => {
    reply.send({ status: 'live' });
  });
  app.get('/health/ready', { logLevel: 'warn' }, async (_request, reply) => {
    const report = await registry.readiness();
    reply.code(report.status === 'ready' ? 200 : 503);
    return report;
  });
  done();
};

export const healthPlugin = fp(health, { name: 'fleet-health', fastify: '5.x' });
