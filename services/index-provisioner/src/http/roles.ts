import { type Queryable, sqlState, UNIQUE_VIOLATION } from '@fleet/chassis/db';
import { byCodepoint } from '../conf/render.js';
import { type Caller, canActFor, ownerFor, requireOwner, SCOPES } from '../domain/access.js';
import { clustersForRoles, type Settings } from '../domain/state.js';
import {
  DomainError,
  matchesIndexPattern,
  NAME_PATTERNS,
  validateGroup,
  validateRoleName,
} from '../domain/validation.js';
import { deleteRole, getIndex, getRole, insertAudit, insertRole, listRoles, updateRole } from '../store.js';
import type { App } from '../types.js';
import { type Context, cursorKey, roleView } from './context.js';
import { documented, pageOf, pageQuery, putRoleBody, role, roleName, teamName } from './schemas.js';

interface PutRoleBody {
  indexesAllowed: string[];
  defaultIndexes?: string[];
  importRoles?: string[];
  groups?: string[];
  owner?: string;
}

const nameParams = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: roleName },
};

const notFound = (name: string) => new DomainError(404, 'role_not_found', `no role '${name}'`, 'name');

function normalize(values: string[] | undefined): string[] {
  return [...new Set(values ?? [])].sort(byCodepoint);
}

/**
 * Check what a role may reference. Everyone: defaults within the allowed indexes, no import
 * cycles. Non-admins: only exact indexes their teams own (no wildcards, no internal `_` indexes)
 * and only importable built-in roles or roles their teams manage, so a team cannot grant itself
 * another team's data or a more powerful role.
 */
async function checkReferences(
  tx: Queryable,
  settings: Settings,
  caller: Caller,
  name: string,
  body: Required<Omit<PutRoleBody, 'owner'>>,
): Promise<void> {
  for (const [i, ref] of body.indexesAllowed.entries()) {
    const field = `indexesAllowed[${i}]`;
    if (!NAME_PATTERNS.indexRef.test(ref))
      throw new DomainError(
        422,
        'invalid_index_reference',
        `'${ref}' is not an index name or pattern`,
        field,
      );
    if (caller.admin) continue;
    if (ref.includes('*') || ref.startsWith('_'))
      throw new DomainError(403, 'admin_only', 'only admins may grant wildcards or internal indexes', field);
    const index = await getIndex(tx, ref);
    if (!index) throw new DomainError(422, 'unknown_index', `no index '${ref}'`, field);
    if (!canActFor(caller, index.owner))
      throw new DomainError(403, 'not_owner', `index '${ref}' belongs to team '${index.owner}'`, field);
  }
  for (const [i, ref] of body.defaultIndexes.entries()) {
    if (!body.indexesAllowed.some((allowed) => matchesIndexPattern(allowed, ref)))
      throw new DomainError(
        422,
        'default_not_allowed',
        `default index '${ref}' is not in indexesAllowed`,
        `defaultIndexes[${i}]`,
      );
  }
  for (const [i, imported] of body.importRoles.entries()) {
    const field = `importRoles[${i}]`;
    if (imported === name) throw new DomainError(422, 'import_cycle', 'a role cannot import itself', field);
    const managed = await getRole(tx, imported);
    if (!caller.admin && !settings.importableRoles.includes(imported)) {
      if (!managed)
        throw new DomainError(403, 'admin_only', `only admins may import role '${imported}'`, field);
      if (!canActFor(caller, managed.owner))
        throw new DomainError(
          403,
          'not_owner',
          `role '${imported}' belongs to team '${managed.owner}'`,
          field,
        );
    }
    // Follow the managed roles' imports: reaching `name` again would be a cycle
    const seen = new Set<string>();
    const queue = managed ? [...managed.importRoles] : [];
    while (queue.length > 0) {
      const next = queue.shift()!;
      if (next === name)
        throw new DomainError(422, 'import_cycle', `importing '${imported}' would make a cycle`, field);
      if (seen.has(next)) continue;
      seen.add(next);
      const r = await getRole(tx, next);
      if (r) queue.push(...r.importRoles);
    }
  }
  for (const [i, group] of body.groups.entries()) validateGroup(group, `groups[${i}]`);
}

export function roleRoutes(app: App, ctx: Context): void {
  const { db, settings } = ctx;
  const tags = ['roles'];

  app.put<{ Params: { name: string }; Body: PutRoleBody }>(
    '/v1/roles/:name',
    {
      auth: { scopes: [SCOPES.roles] },
      idempotent: true,
      schema: documented({
        summary: 'Create or replace a role and its directory group mapping',
        description:
          'Renders `[role_<name>]` in authorize.conf and `<name> = <groups>` in authentication.conf `[roleMap_<strategy>]`.',
        tags,
        params: nameParams,
        body: putRoleBody,
        response: { 200: { ...role, description: 'Replaced' }, 201: { ...role, description: 'Created' } },
      }),
    },
    async (request, reply) => {
      const caller = ctx.caller(request);
      const { name } = request.params;
      validateRoleName(name);
      const spec = {
        indexesAllowed: normalize(request.body.indexesAllowed),
        defaultIndexes: normalize(request.body.defaultIndexes),
        importRoles: normalize(request.body.importRoles),
        groups: normalize(request.body.groups),
      };
      let result: { record: Awaited<ReturnType<typeof insertRole>>; created: boolean; changed: boolean };
      try {
        result = await db.transaction(async (tx) => {
          const before = await getRole(tx, name, true);
          if (before) requireOwner(caller, before.owner, `role '${name}'`);
          const owner =
            request.body.owner !== undefined || !before ? ownerFor(caller, request.body.owner) : before.owner;
          await checkReferences(tx, settings, caller, name, spec);
          if (
            before &&
            before.owner === owner &&
            JSON.stringify([
              before.indexesAllowed,
              before.defaultIndexes,
              before.importRoles,
              before.groups,
            ]) === JSON.stringify([spec.indexesAllowed, spec.defaultIndexes, spec.importRoles, spec.groups])
          )
            return { record: before, created: false, changed: false };
          const record = before
            ? await updateRole(tx, { name, owner, ...spec })
            : await insertRole(tx, { name, owner, ...spec, createdBy: caller.subject });
          await insertAudit(tx, {
            actor: caller.subject,
            action: before ? 'role.update' : 'role.create',
            resourceType: 'role',
            resourceName: name,
            before: before ? roleView(before) : null,
            after: roleView(record),
            requestId: request.id,
          });
          return { record, created: !before, changed: true };
        });
      } catch (err) {
        if (sqlState(err) === UNIQUE_VIOLATION)
          throw new DomainError(409, 'role_exists', `role '${name}' was created concurrently; retry`, 'name');
        throw err;
      }
      if (result.changed)
        ctx.changed(result.created ? 'role.create' : 'role.update', clustersForRoles(settings));
      if (result.created) reply.code(201).header('location', `/v1/roles/${name}`);
      return roleView(result.record);
    },
  );

  app.get<{ Querystring: { owner?: string; limit: number; cursor?: string } }>(
    '/v1/roles',
    {
      auth: { scopes: [SCOPES.read] },
      schema: documented({
        summary: 'List roles',
        tags,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { owner: teamName, ...pageQuery },
        },
        response: { 200: pageOf(role) },
      }),
    },
    async (request) => {
      const { limit, cursor, owner } = request.query;
      const page = await listRoles(db, { owner }, limit, cursorKey(cursor));
      return { items: page.items.map(roleView), nextCursor: page.nextCursor };
    },
  );

  app.get<{ Params: { name: string } }>(
    '/v1/roles/:name',
    {
      auth: { scopes: [SCOPES.read] },
      schema: documented({ summary: 'Get a role', tags, params: nameParams, response: { 200: role } }),
    },
    async (request) => {
      const found = await getRole(db, request.params.name);
      if (!found) throw notFound(request.params.name);
      return roleView(found);
    },
  );

  app.delete<{ Params: { name: string } }>(
    '/v1/roles/:name',
    {
      auth: { scopes: [SCOPES.roles] },
      schema: documented({
        summary: 'Delete a role',
        description: 'Removes its authorize.conf stanza and group mapping at the next deployment.',
        tags,
        params: nameParams,
        response: { 204: { type: 'null', description: 'Deleted' } },
      }),
    },
    async (request, reply) => {
      const caller = ctx.caller(request);
      const { name } = request.params;
      await db.transaction(async (tx) => {
        const before = await getRole(tx, name, true);
        if (!before) throw notFound(name);
        requireOwner(caller, before.owner, `role '${name}'`);
        const importers = await tx.query<{ name: string }>(
          'SELECT name FROM roles WHERE import_roles @> $1::jsonb ORDER BY name',
          [JSON.stringify([name])],
        );
        if (importers.length > 0)
          throw new DomainError(
            409,
            'role_in_use',
            `role '${name}' is imported by ${importers.map((r) => r.name).join(', ')}`,
            'name',
          );
        await deleteRole(tx, name);
        await insertAudit(tx, {
          actor: caller.subject,
          action: 'role.delete',
          resourceType: 'role',
          resourceName: name,
          before: roleView(before),
          after: null,
          requestId: request.id,
        });
      });
      ctx.changed('role.delete', clustersForRoles(settings));
      return reply.code(204).send();
    },
  );
}
