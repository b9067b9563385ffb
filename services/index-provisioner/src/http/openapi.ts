import type { App } from '../types.js';
import { errorBody } from './schemas.js';

interface RouteSchema {
  summary?: string;
  description?: string;
  tags?: string[];
  params?: { properties?: Record<string, object>; required?: string[] };
  querystring?: { properties?: Record<string, object>; required?: string[] };
  body?: object;
  response?: Record<string, object>;
}

interface CollectedRoute {
  method: string;
  url: string;
  schema: RouteSchema;
  scopes: string[] | undefined;
  authenticated: boolean;
  idempotent: boolean;
}

const ERROR_TEXT: Record<string, string> = {
  '400': 'Invalid request (schema validation failed: see details)',
  '401': 'Missing, invalid or expired bearer token',
  '403': 'Token lacks a required scope, or the resource belongs to another team',
  '404': 'Not found',
  '409': 'Conflict (the name exists, a deployment is running, or an Idempotency-Key request is in progress)',
  '422': 'Request breaks a rule (Splunk naming, ranges, references, Idempotency-Key reuse)',
};

function toOpenApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/**
 * Collects the routes registered after it in this scope (an onRoute hook) and builds an OpenAPI
 * 3.1 document from their schemas (Fastify's JSON schemas are valid 3.1 schemas as they are).
 */
export function openApiCollector(app: App, info: { title: string; version: string; description: string }) {
  const routes: CollectedRoute[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD' || method === 'OPTIONS') continue;
      const auth = route.auth;
      routes.push({
        method: method.toLowerCase(),
        url: route.url,
        schema: (route.schema ?? {}) as RouteSchema,
        scopes: auth && auth !== true ? auth.scopes : undefined,
        authenticated: Boolean(auth),
        idempotent: Boolean(route.idempotent),
      });
    }
  });

  let cached: object | undefined;
  return function document(): object {
    if (cached) return cached;
    const paths: Record<string, Record<string, object>> = {};
    for (const route of routes) {
      const { schema } = route;
      const parameters: object[] = [];
      for (const [name, s] of Object.entries(schema.params?.properties ?? {}))
        parameters.push({ name, in: 'path', required: true, schema: s });
      for (const [name, s] of Object.entries(schema.querystring?.properties ?? {}))
        parameters.push({
          name,
          in: 'query',
          required: schema.querystring?.required?.includes(name) ?? false,
          schema: s,
        });
      if (route.idempotent)
        parameters.push({
          name: 'Idempotency-Key',
          in: 'header',
          required: false,
          description: 'Retries with the same key get the first response (24 h)',
          schema: { type: 'string', minLength: 1, maxLength: 255 },
        });
      const responses: Record<string, object> = {};
      for (const [code, s] of Object.entries(schema.response ?? {}))
        responses[code] = {
          description: (s as { description?: string }).description ?? 'Success',
          content: { 'application/json': { schema: s } },
        };
      const errors = ['400', ...(route.authenticated ? ['401', '403'] : [])];
      if (route.url.includes(':')) errors.push('404');
      if (['post', 'put', 'patch', 'delete'].includes(route.method)) errors.push('409', '422');
      for (const code of errors)
        responses[code] ??= {
          description: ERROR_TEXT[code],
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        };
      const path = toOpenApiPath(route.url);
      paths[path] ??= {};
      paths[path][route.method] = {
        operationId: `${route.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
        ...(schema.summary ? { summary: schema.summary } : {}),
        ...(schema.description ? { description: schema.description } : {}),
        ...(schema.tags ? { tags: schema.tags } : {}),
        ...(parameters.length ? { parameters } : {}),
        ...(schema.body
          ? { requestBody: { required: true, content: { 'application/json': { schema: schema.body } } } }
          : {}),
        responses,
        security: route.authenticated ? [{ bearerAuth: route.scopes ?? [] }] : [],
      };
    }
    cached = {
      openapi: '3.1.0',
      info,
      paths,
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description:
              "JWT verified by the chassis. Scopes in the `scope` claim; the `team` claim (string or array) names the caller's teams.",
          },
        },
        schemas: { Error: errorBody },
      },
    };
    return cached;
  };
}
