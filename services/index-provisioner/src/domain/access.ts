import type { Principal } from '@fleet/chassis';
import { DomainError } from './validation.js';

export const SCOPES = {
  read: 'indexes:read',
  write: 'indexes:write',
  roles: 'roles:write',
  deploy: 'deploy',
} as const;

/** Who is calling, as far as ownership goes. */
export interface Caller {
  subject: string;
  /** Teams from the token's `team` (string or array) and `owner` claims. */
  teams: ReadonlySet<string>;
  admin: boolean;
}

export function callerOf(principal: Principal | null, adminScope: string): Caller {
  if (!principal) throw new Error('route is missing its auth requirement');
  const teams = new Set<string>();
  for (const claim of [principal.claims.team, principal.claims.owner]) {
    if (typeof claim === 'string' && claim) teams.add(claim);
    if (Array.isArray(claim)) for (const t of claim) if (typeof t === 'string' && t) teams.add(t);
  }
  return { subject: principal.subject, teams, admin: principal.scopes.has(adminScope) };
}

/** The caller may act for `owner`: a member of that team, or an admin. */
export function canActFor(caller: Caller, owner: string): boolean {
  return caller.admin || caller.teams.has(owner);
}

export function requireOwner(caller: Caller, owner: string, what: string, field?: string): void {
  if (!canActFor(caller, owner))
    throw new DomainError(
      403,
      'not_owner',
      `${what} belongs to team '${owner}'; only that team or an admin may change it`,
      field,
    );
}

/** The owner a new resource gets: the one asked for (checked), or the caller's only team. */
export function ownerFor(caller: Caller, requested: string | undefined, field = 'owner'): string {
  if (requested !== undefined) {
    if (!canActFor(caller, requested))
      throw new DomainError(403, 'not_owner', `you may not act for team '${requested}'`, field);
    return requested;
  }
  if (caller.teams.size === 1) return [...caller.teams][0]!;
  throw new DomainError(
    422,
    'owner_required',
    caller.teams.size === 0
      ? 'your token names no team: give an owner'
      : 'your token names several teams: give an owner',
    field,
  );
}
