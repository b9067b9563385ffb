import { STATUS_CODES } from 'node:http';
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

/** One validation problem: where (`body/items/0/name`, `querystring/limit`) and what. */
export interface ValidationDetail {
  path: string;
  message: string;
  params?: Record<string, unknown>;
}

type AjvIssue = NonNullable<FastifyError['validation']>[number];

/** The path of the value at fault, including the property a `required`/`additionalProperties` rule names. */
function issuePath(context: string, issue: AjvIssue): string {
  const params = (issue.params ?? {}) as Record<string, unknown>;
  const property =
    typeof params.missingProperty === 'string'
      ? params.missingProperty
      : typeof params.additionalProperty === 'string'
        ? params.additionalProperty
        : undefined;
  return `${context}${issue.instancePath}${property !== undefined ? `/${property}` : ''}`;
}

function statusText(statusCode: number): string {
  return STATUS_CODES[statusCode] ?? 'Error';
}

/** 'Unprocessable Entity' → 'unprocessable_entity', for errors that carry no code of their own. */
function codeOf(statusCode: number): string {
  return statusText(statusCode)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_');
}

/**
 * Uniform errors: validation failures list every problem with its path; client errors keep their
 * message; server errors are logged with the stack and answered without internals.
 */
const errors: FastifyPluginCallback = (app, _options, done) => {
  app.setErrorHandler((thrown: FastifyError | null | undefined, request, reply) => {
    const error = (thrown ?? {}) as Partial<FastifyError>;
    const status = error.statusCode;
    const statusCode = typeof status === 'number' && status >= 400 && status <= 599 ? status : 500;
    if (error.validation) {
      const context = error.validationContext ?? 'body';
      const details: ValidationDetail[] = error.validation.map((issue) => ({
        path: issuePath(context, issue),
        message: issue.message ?? 'is invalid',
        ...(issue.params && Object.keys(issue.params).length
          ? { params: issue.params as Record<string, unknown> }
          : {}),
      }));
      const body: ErrorBody = {
        statusCode: 400,
        error: 'Bad Request',
        code: 'validation_failed',
        message: error.message ?? 'request validation failed',
        details,
      };
      return reply.code(400).send(body);
    }
    if (statusCode >= 500) {
      request.log.error({ err: thrown }, 'unhandled error');
      return reply.code(statusCode).send({
        statusCode,
        error: statusText(statusCode),
        code: 'internal_error',
        message: statusText(statusCode),
      } satisfies ErrorBody);
    }
    return reply.code(statusCode).send({
      statusCode,
      error: statusText(statusCode),
      code: typeof error.code === 'string' && error.code ? error.code : codeOf(statusCode),
      message: error.message || statusText(statusCode),
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
