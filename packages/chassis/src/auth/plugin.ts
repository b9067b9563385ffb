import type { FastifyPluginCallback, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { InvalidTokenError, type Principal, type TokenVerifier } from './verifier.js';

/** What a route requires of its caller: any valid token (`true`), or these scopes/roles (all of them). */
export type AuthRequirement = true | { scopes?: string[]; roles?: string[] };

declare module 'fastify' {
  interface RouteShorthandOptions {
    /** Require a bearer token; see AuthRequirement. */
    auth?: AuthRequirement;
  }
  interface FastifyRequest {
    /** The verified caller, on routes that declare `auth`. */
    principal: Principal | null;
  }
}

export interface AuthPluginOptions {
  verifier: TokenVerifier;
}

function challenge(reply: FastifyReply, description: string): FastifyReply {
  return reply
    .code(401)
    .header(
      'www-authenticate',
      `Bearer error="invalid_token", error_description="${description.replace(/"/g, "'")}"`,
    )
    .send({ statusCode: 401, error: 'Unauthorized', code: 'invalid_token', message: description });
}

function missing(required: string[] | undefined, held: ReadonlySet<string>): string[] {
  return (required ?? []).filter((item) => !held.has(item));
}

function guard(verifier: TokenVerifier, requirement: AuthRequirement): onRequestHookHandler {
  return async function authenticate(request: FastifyRequest, reply: FastifyReply) {
    const header = request.headers.authorization;
    if (!header || !/^Bearer /i.test(header)) return challenge(reply, 'missing bearer token');
    let principal: Principal;
    try {
      principal = await verifier.verify(header.slice(7).trim());
    } catch (err) {
      if (err instanceof InvalidTokenError) return challenge(reply, err.reason);
      throw err;
    }
    if (requirement !== true) {
      const scopes = missing(requirement.scopes, principal.scopes);
      const roles = missing(requirement.roles, principal.roles);
      if (scopes.length + roles.length > 0) {
        return reply
          .code(403)
          .header(
            'www-authenticate',
            `Bearer error="insufficient_scope", scope="${(requirement.scopes ?? []).join(' ')}"`,
          )
          .send({
            statusCode: 403,
            error: 'Forbidden',
            code: 'insufficient_scope',
            message: 'token lacks required scopes or roles',
            missing: { scopes, roles },
          });
      }
    }
    request.principal = principal;
  };
}

/**
 * Routes that declare `auth` get a bearer-token guard as their first onRequest hook; other routes
 * pay nothing. Register before the routes it protects.
 */
const auth: FastifyPluginCallback<AuthPluginOptions> = (app, { verifier }, done) => {
  app.decorateRequest('principal', null);
  app.addHook('onRoute', (route) => {
    const requirement = route.auth;
    if (!requirement) return;
    const existing = route.onRequest
      ? Array.isArray(route.onRequest)
        ? route.onRequest
        : [route.onRequest]
      : [];
    route.onRequest = [guard(verifier, requirement), ...existing];
  });
  done();
};

export const authPlugin = fp(auth, { name: 'fleet-auth', fastify: '5.x' });
