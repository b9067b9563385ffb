import type { FastifyError, FastifyPluginCallback } from 'fastify';
import fp from 'fastify-plugin';

/** Machine-readable error body every chassis route answers with. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  code: string;
  message: string;
  details?: unknown;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * Uniform errors: validation failures list every problem with its path; client errors keep their
 * message; server errors are logged with the stack and answered without internals.
 */
const errors: FastifyPluginCallback = (app, _options, done) => {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const statusCode = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    const error_ = STATUS_TEXT[statusCode] ?? 'Error';
    if (error.validation) {
      const body: ErrorBody = {
        statusCode: 400,
        error: 'Bad Request',
        code: 'validation_failed',
        message: error.message,
        details: error.validation.map((v) => ({
          path: `${error.validationContext ?? 'body'}${v.instancePath}`,
          message: v.message,
          ...(v.params && Object.keys(v.params).length ? { params: v.params } : {}),
        })),
      };
      return reply.code(400).send(body);
    }
    if (statusCode >= 500) {
      request.log.error({ err: error }, 'unhandled error');
      return reply
        .code(statusCode)
        .send({ statusCode, error: error_, code: 'internal_error', message: error_ });
    }
    return reply.code(statusCode).send({
      statusCode,
      error: error_,
      code: error.code ?? 'error',
      message: error.message,
    } satisfies ErrorBody);
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      statusCode: 404,
      error: 'Not Found',
      code: 'not_found',
      message: `no route for ${request.method} ${request.url.split('?')[0]}`,
    } satisfies ErrorBody);
  });
  done();
};

export const errorsPlugin = fp(errors, { name: 'fleet-errors', fastify: '5.x' });
