import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../src/kafka/error-codes.js';
import {
  GroupCoordinator,
  type JoinGroupParams,
  type JoinGroupResult,
} from '../src/kafka/group-coordinator.js';

const coordinators: GroupCoordinator[] = [];
function coordinator(initialRebalanceDelayMs = 0): GroupCoordinator {
  const c = new GroupCoordinator({
    minSessionTimeoutMs: 10,
    maxSessionTimeoutMs: 60_000,
    initialRebalanceDelayMs,
    log: () => {},
  });
  coordinators.push(c);
  return c;
}
afterEach(() => {
  for (const c of coordinators.splice(0)) c.close();
});

const meta = Buffer.from('meta');
function params(memberId = '', extra: Partial<JoinGroupParams> = {}): JoinGroupParams {
  return {
    groupId: 'g',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    memberId,
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: meta }],
    clientId: 'client',
    clientHost: '/127.0.0.1',
    requireKnownMemberId: false,
    ...extra,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('group coordinator', () => {
  it('walks Empty → PreparingRebalance → CompletingRebalance → Stable for one member', async () => {
    const gc = coordinator();
    const res = await gc.joinGroup(params());
    expect(res.errorCode).toBe(ErrorCode.NONE);
    expect(res.generationId).toBe(1);
    expect(res.leaderId).toBe(res.memberId);
    expect(res.members).toEqual([{ memberId: res.memberId, groupInstanceId: null, metadata: meta }]);
    expect(gc.describe('g')?.state).toBe('CompletingRebalance');
    const sync = await gc.syncGroup('g', 1, res.memberId, [
      { memberId: res.memberId, assignment: Buffer.from('a') },
    ]);
    expect(sync).toEqual({ errorCode: 0, assignment: Buffer.from('a') });
    expect(gc.describe('g')?.state).toBe('Stable');
    expect(gc.heartbeat('g', 1, res.memberId)).toBe(ErrorCode.NONE);
  });

  it('MEMBER_ID_REQUIRED hands out an id that must be used to join (JoinGroup v4+)', async () => {
    const gc = coordinator();
    const first = (await gc.joinGroup(params('', { requireKnownMemberId: true }))) as JoinGroupResult;
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    expect(first.memberId).toMatch(/^client-/);
    const second = await gc.joinGroup(params(first.memberId, { requireKnownMemberId: true }));
    expect(second).toMatchObject({ errorCode: 0, memberId: first.memberId, generationId: 1 });
    expect((await gc.joinGroup(params('made-up'))).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('reports ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID and REBALANCE_IN_PROGRESS', async () => {
    const gc = coordinator();
    const a = await gc.joinGroup(params());
    await gc.syncGroup('g', 1, a.memberId, []);
    expect(gc.heartbeat('g', 0, a.memberId)).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(gc.heartbeat('g', 1, 'nobody')).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(gc.heartbeat('other', 1, a.memberId)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await gc.syncGroup('g', 7, a.memberId, [])).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);

    // b joins: the group starts rebalancing and a must rejoin
    const bJoin = gc.joinGroup(params());
    expect(gc.describe('g')?.state).toBe('PreparingRebalance');
    expect(gc.heartbeat('g', 1, a.memberId)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    // commits of the current generation are still accepted while preparing
    expect(gc.checkCommit('g', 1, a.memberId)).toBe(ErrorCode.NONE);
    expect((await gc.syncGroup('g', 1, a.memberId, [])).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const aRejoin = gc.joinGroup(params(a.memberId));
    const [a2, b] = await Promise.all([aRejoin, bJoin]);
    expect(a2.generationId).toBe(2);
    expect(b.generationId).toBe(2);
    expect(a2.leaderId).toBe(a.memberId);
    expect(a2.members).toHaveLength(2);
    expect(b.members).toHaveLength(0);
    expect(gc.checkCommit('g', 2, a.memberId)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(gc.checkCommit('g', 1, a.memberId)).toBe(ErrorCode.ILLEGAL_GENERATION);

    // the follower waits in SyncGroup until the leader sends the assignments
    const bSync = gc.syncGroup('g', 2, b.memberId, []);
    const aSync = await gc.syncGroup('g', 2, a.memberId, [
      { memberId: a.memberId, assignment: Buffer.from('A') },
      { memberId: b.memberId, assignment: Buffer.from('B') },
    ]);
    expect(aSync.assignment.toString()).toBe('A');
    expect((await bSync).assignment.toString()).toBe('B');
    expect(gc.describe('g')?.members.map((m) => m.assignment.toString())).toEqual(['A', 'B']);
  });

  it('evicts members whose session expires and rebalances the rest', async () => {
    const gc = coordinator();
    const a = await gc.joinGroup(params('', { sessionTimeoutMs: 60 }));
    await gc.syncGroup('g', 1, a.memberId, []);
    for (let i = 0; i < 4; i++) {
      await sleep(30);
      expect(gc.heartbeat('g', 1, a.memberId)).toBe(ErrorCode.NONE);
    }
    await sleep(120);
    expect(gc.describe('g')).toMatchObject({ state: 'Empty', members: [], generationId: 2 });
    expect(gc.heartbeat('g', 1, a.memberId)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('completes a rebalance after the rebalance timeout, dropping members that did not rejoin', async () => {
    const gc = coordinator();
    const a = await gc.joinGroup(params('', { rebalanceTimeoutMs: 80 }));
    await gc.syncGroup('g', 1, a.memberId, []);
    const started = Date.now();
    const b = await gc.joinGroup(params('', { rebalanceTimeoutMs: 80 }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(70);
    expect(b).toMatchObject({ errorCode: 0, generationId: 2, leaderId: b.memberId });
    expect(gc.describe('g')?.members.map((m) => m.memberId)).toEqual([b.memberId]);
  });

  it('LeaveGroup triggers a rebalance; the last member leaving empties the group', async () => {
    const gc = coordinator();
    const a = await gc.joinGroup(params());
    await gc.syncGroup('g', 1, a.memberId, []);
    expect(gc.leaveGroup('g', 'nobody')).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(gc.leaveGroup('g', a.memberId)).toBe(ErrorCode.NONE);
    expect(gc.describe('g')).toMatchObject({ state: 'Empty', generationId: 2 });
    expect(gc.deleteGroup('g')).toBe(ErrorCode.NONE);
    expect(gc.deleteGroup('g')).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
  });

  it('rejects bad session timeouts and inconsistent protocols', async () => {
    const gc = coordinator();
    expect((await gc.joinGroup(params('', { sessionTimeoutMs: 1 }))).errorCode).toBe(
      ErrorCode.INVALID_SESSION_TIMEOUT,
    );
    expect((await gc.joinGroup(params('', { groupId: '' }))).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    const a = await gc.joinGroup(params());
    await gc.syncGroup('g', 1, a.memberId, []);
    const other = await gc.joinGroup(params('', { protocols: [{ name: 'sticky', metadata: meta }] }));
    expect(other.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  });

  it('waits for the initial rebalance delay so members starting together share a generation', async () => {
    const gc = coordinator(60);
    const a = gc.joinGroup(params());
    await sleep(20);
    const b = gc.joinGroup(params());
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.generationId).toBe(1);
    expect(rb.generationId).toBe(1);
  });

  it('simple (generation -1) commits are allowed only while the group has no members', async () => {
    const gc = coordinator();
    expect(gc.checkCommit('fresh', -1, '')).toBe(ErrorCode.NONE);
    expect(gc.commitOffset('fresh', 't', 0, 42, null)).toBe(ErrorCode.NONE);
    expect(gc.committed('fresh', 't', 0)?.offset).toBe(42);
    const a = await gc.joinGroup(params());
    await gc.syncGroup('g', 1, a.memberId, []);
    expect(gc.checkCommit('g', -1, '')).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(gc.commitOffset('g', 't', 0, 1, 'x'.repeat(5000))).toBe(ErrorCode.OFFSET_METADATA_TOO_LARGE);
  });
});
