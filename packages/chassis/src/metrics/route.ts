import type { FastifyInstance, FastifyRequest } from 'fastify';

const kRoute = Symbol('fleet.route');

declare module 'fastify' {
  interface FastifyRequest {
    /** false: not looked up yet; null: no route matched (404). */
    [kRoute]: string | null | false;
  }
}

/** Declare the per-request route cache (each plugin using routeTemplate calls this). */
export function decorateRouteTemplate(app: FastifyInstance): void {
  if (!app.hasRequestDecorator(kRoute)) app.decorateRequest(kRoute, false);
}

/**
 * The matched route's template (`/users/:id`), or undefined when no route matched. Fastify's
 * `request.routeOptions` getter builds a fresh options object on every read; tracing, metrics and
 * the access line all need the template, so it is read once per request.
 */
export function routeTemplate(request: FastifyRequest): string | undefined {
  let route = request[kRoute];
  if (route === false || route === undefined) {
    route = request.routeOptions.url ?? null;
    request[kRoute] = route;
  }
  return route ?? undefined;
}
