/**
 * Consumer group APIs: FindCoordinator (10) v0–2, JoinGroup (11) v0–5, Heartbeat (12) v0–3,
 * LeaveGroup (13) v0–3, SyncGroup (14) v0–3, DescribeGroups (15) v0–2, ListGroups (16) v0–2,
 * DeleteGroups (42) v0–1. The state machine lives in GroupCoordinator.
 */
import { ApiKey } from '../api-keys.js';
import { ErrorCode } from '../error-codes.js';
import type { GroupProtocol, JoinGroupResult, SyncGroupResult } from '../group-coordinator.js';
import { defineHandler, type RequestContext } from './types.js';

/** NONE when the receiving broker coordinates `groupId`, otherwise the error to return. */
export function coordinatorError(ctx: RequestContext, groupId: string): number {
  const coordinator = ctx.cluster.coordinatorOf(groupId);
  if (!ctx.cluster.isRunning(coordinator)) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
  if (coordinator !== ctx.nodeId) return ErrorCode.NOT_COORDINATOR;
  return ErrorCode.NONE;
}

// ---------------------------------------------------------------------------- FindCoordinator

interface FindCoordinatorRes {
  errorCode: number;
  nodeId: number;
  host: string;
  port: number;
}

export const findCoordinatorHandler = defineHandler<{ key: string }, FindCoordinatorRes>({
  apiKey: ApiKey.FindCoordinator,
  minVersion: 0,
  maxVersion: 2,
  decode(r, version) {
    const key = r.string();
    if (version >= 1) r.int8(); // key type: 0 group, 1 transaction; both hash the same way here
    return { key };
  },
  handle(ctx, req) {
    const node = ctx.cluster.node(ctx.cluster.coordinatorOf(req.key));
    if (!node?.running)
      return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, nodeId: -1, host: '', port: -1 };
    return { errorCode: ErrorCode.NONE, nodeId: node.nodeId, host: node.host, port: node.port };
  },
  errorResponse: (_ctx, _req, errorCode) => ({ errorCode, nodeId: -1, host: '', port: -1 }),
  encode(w, res, version) {
    if (version >= 1) w.int32(0);
    w.int16(res.errorCode);
    if (version >= 1) w.nullableString(null);
    w.int32(res.nodeId).string(res.host).int32(res.port);
  },
});

// ---------------------------------------------------------------------------- JoinGroup

interface JoinReq {
  groupId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string;
  protocols: GroupProtocol[];
}

function joinError(req: JoinReq, errorCode: number): JoinGroupResult {
  return { errorCode, generationId: -1, protocolName: '', leaderId: '', memberId: req.memberId, members: [] };
}

export const joinGroupHandler = defineHandler<JoinReq, JoinGroupResult>({
  apiKey: ApiKey.JoinGroup,
  minVersion: 0,
  maxVersion: 5,
  decode(r, version) {
    const groupId = r.string();
    const sessionTimeoutMs = r.int32();
    const rebalanceTimeoutMs = version >= 1 ? r.int32() : sessionTimeoutMs;
    const memberId = r.string();
    const groupInstanceId = version >= 5 ? r.nullableString() : null;
    const protocolType = r.string();
    // Copy metadata: it outlives the request buffer.
    const protocols = r.array((r) => ({ name: r.string(), metadata: Buffer.from(r.bytes()) }));
    return {
      groupId,
      sessionTimeoutMs,
      rebalanceTimeoutMs,
      memberId,
      groupInstanceId,
      protocolType,
      protocols,
    };
  },
  handle(ctx, req) {
    const err = coordinatorError(ctx, req.groupId);
    if (err !== ErrorCode.NONE) return joinError(req, err);
    return ctx.cluster.groups.joinGroup({
      ...req,
      clientId: ctx.clientId,
      clientHost: ctx.clientHost,
      requireKnownMemberId: ctx.apiVersion >= 4,
    });
  },
  errorResponse: (_ctx, req, errorCode) => joinError(req, errorCode),
  encode(w, res, version) {
    if (version >= 2) w.int32(0);
    w.int16(res.errorCode)
      .int32(res.generationId)
      .string(res.protocolName)
      .string(res.leaderId)
      .string(res.memberId);
    w.array(res.members, (w, m) => {
      w.string(m.memberId);
      if (version >= 5) w.nullableString(m.groupInstanceId);
      w.bytes(m.metadata);
    });
  },
});

// ---------------------------------------------------------------------------- SyncGroup

interface SyncReq {
  groupId: string;
  generationId: number;
  memberId: string;
  assignments: Array<{ memberId: string; assignment: Buffer }>;
}

export const syncGroupHandler = defineHandler<SyncReq, SyncGroupResult>({
  apiKey: ApiKey.SyncGroup,
  minVersion: 0,
  maxVersion: 3,
  decode(r, version) {
    const groupId = r.string();
    const generationId = r.int32();
    const memberId = r.string();
    if (version >= 3) r.nullableString(); // group instance id
    const assignments = r.array((r) => ({ memberId: r.string(), assignment: r.bytes() }));
    return { groupId, generationId, memberId, assignments };
  },
  handle(ctx, req) {
    const err = coordinatorError(ctx, req.groupId);
    if (err !== ErrorCode.NONE) return { errorCode: err, assignment: Buffer.alloc(0) };
    return ctx.cluster.groups.syncGroup(req.groupId, req.generationId, req.memberId, req.assignments);
  },
  errorResponse: (_ctx, _req, errorCode) => ({ errorCode, assignment: Buffer.alloc(0) }),
  encode(w, res, version) {
    if (version >= 1) w.int32(0);
    w.int16(res.errorCode).bytes(res.assignment);
  },
});

// ---------------------------------------------------------------------------- Heartbeat

interface HeartbeatReq {
  groupId: string;
  generationId: number;
  memberId: string;
}

export const heartbeatHandler = defineHandler<HeartbeatReq, { errorCode: number }>({
  apiKey: ApiKey.Heartbeat,
  minVersion: 0,
  maxVersion: 3,
  decode(r, version) {
    const req = { groupId: r.string(), generationId: r.int32(), memberId: r.string() };
    if (version >= 3) r.nullableString();
    return req;
  },
  handle(ctx, req) {
    const err = coordinatorError(ctx, req.groupId);
    if (err !== ErrorCode.NONE) return { errorCode: err };
    return { errorCode: ctx.cluster.groups.heartbeat(req.groupId, req.generationId, req.memberId) };
  },
  errorResponse: (_ctx, _req, errorCode) => ({ errorCode }),
  encode(w, res, version) {
    if (version >= 1) w.int32(0);
    w.int16(res.errorCode);
  },
});

// ---------------------------------------------------------------------------- LeaveGroup

interface LeaveReq {
  groupId: string;
  members: Array<{ memberId: string; groupInstanceId: string | null }>;
}

interface LeaveRes {
  errorCode: number;
  members: Array<{ memberId: string; groupInstanceId: string | null; errorCode: number }>;
}

function leaveError(req: LeaveReq, errorCode: number): LeaveRes {
  return { errorCode, members: req.members.map((m) => ({ ...m, errorCode })) };
}

export const leaveGroupHandler = defineHandler<LeaveReq, LeaveRes>({
  apiKey: ApiKey.LeaveGroup,
  minVersion: 0,
  maxVersion: 3,
  decode(r, version) {
    const groupId = r.string();
    if (version <= 2) return { groupId, members: [{ memberId: r.string(), groupInstanceId: null }] };
    return {
      groupId,
      members: r.array((r) => ({ memberId: r.string(), groupInstanceId: r.nullableString() })),
    };
  },
  handle(ctx, req) {
    const err = coordinatorError(ctx, req.groupId);
    if (err !== ErrorCode.NONE) return leaveError(req, err);
    const members = req.members.map((m) => ({
      ...m,
      errorCode: ctx.cluster.groups.leaveGroup(req.groupId, m.memberId),
    }));
    // v0-2 carry a single member whose error is the top-level error.
    const errorCode = ctx.apiVersion <= 2 ? (members[0]?.errorCode ?? ErrorCode.NONE) : ErrorCode.NONE;
    return { errorCode, members };
  },
  errorResponse: (_ctx, req, errorCode) => leaveError(req, errorCode),
  encode(w, res, version) {
    if (version >= 1) w.int32(0);
    w.int16(res.errorCode);
    if (version >= 3) {
      w.array(res.members, (w, m) =>
        w.string(m.memberId).nullableString(m.groupInstanceId).int16(m.errorCode),
      );
    }
  },
});

// ---------------------------------------------------------------------------- DescribeGroups

interface DescribedGroup {
  errorCode: number;
  groupId: string;
  state: string;
  protocolType: string;
  protocol: string;
  members: Array<{
    memberId: string;
    clientId: string;
    clientHost: string;
    metadata: Buffer;
    assignment: Buffer;
  }>;
}

export const describeGroupsHandler = defineHandler<{ groupIds: string[] }, { groups: DescribedGroup[] }>({
  apiKey: ApiKey.DescribeGroups,
  minVersion: 0,
  maxVersion: 2,
  decode: (r) => ({ groupIds: r.array((r) => r.string()) }),
  handle(ctx, req) {
    return {
      groups: req.groupIds.map((groupId): DescribedGroup => {
        const err = coordinatorError(ctx, groupId);
        const d = err === ErrorCode.NONE ? ctx.cluster.groups.describe(groupId) : undefined;
        if (!d) {
          return { errorCode: err, groupId, state: 'Dead', protocolType: '', protocol: '', members: [] };
        }
        return {
          errorCode: ErrorCode.NONE,
          groupId,
          state: d.state,
          protocolType: d.protocolType,
          protocol: d.protocol,
          members: d.members,
        };
      }),
    };
  },
  errorResponse: (_ctx, req, errorCode) => ({
    groups: req.groupIds.map((groupId) => ({
      errorCode,
      groupId,
      state: '',
      protocolType: '',
      protocol: '',
      members: [],
    })),
  }),
  encode(w, res, version) {
    if (version >= 1) w.int32(0);
    w.array(res.groups, (w, g) => {
      w.int16(g.errorCode).string(g.groupId).string(g.state).string(g.protocolType).string(g.protocol);
      w.array(g.members, (w, m) => {
        w.string(m.memberId).string(m.clientId).string(m.clientHost).bytes(m.metadata).bytes(m.assignment);
      });
    });
  },
});

// ---------------------------------------------------------------------------- ListGroups

interface ListGroupsRes {
  errorCode: number;
  groups: Array<{ groupId: string; protocolType: string }>;
}

export const listGroupsHandler = defineHandler<null, ListGroupsRes>({
  apiKey: ApiKey.ListGroups,
  minVersion: 0,
  maxVersion: 2,
  decode: () => null,
  handle(ctx) {
    // Each broker lists the groups it coordinates (clients merge the answers of all brokers).
    const groups = ctx.cluster.groups
      .list()
      .filter((g) => ctx.cluster.coordinatorOf(g.groupId) === ctx.nodeId)
      .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType }));
    return { errorCode: ErrorCode.NONE, groups };
  },
  errorResponse: (_ctx, _req, errorCode) => ({ errorCode, groups: [] }),
  encode(w, res, version) {
    if (version >= 1) w.int32(0);
    w.int16(res.errorCode);
    w.array(res.groups, (w, g) => w.string(g.groupId).string(g.protocolType));
  },
});

// ---------------------------------------------------------------------------- DeleteGroups

interface DeleteGroupsRes {
  results: Array<{ groupId: string; errorCode: number }>;
}

export const deleteGroupsHandler = defineHandler<{ groupIds: string[] }, DeleteGroupsRes>({
  apiKey: ApiKey.DeleteGroups,
  minVersion: 0,
  maxVersion: 1,
  decode: (r) => ({ groupIds: r.array((r) => r.string()) }),
  handle(ctx, req) {
    return {
      results: req.groupIds.map((groupId) => {
        const err = coordinatorError(ctx, groupId);
        return { groupId, errorCode: err !== ErrorCode.NONE ? err : ctx.cluster.groups.deleteGroup(groupId) };
      }),
    };
  },
  errorResponse: (_ctx, req, errorCode) => ({
    results: req.groupIds.map((groupId) => ({ groupId, errorCode })),
  }),
  encode(w, res) {
    w.int32(0);
    w.array(res.results, (w, g) => w.string(g.groupId).int16(g.errorCode));
  },
});
