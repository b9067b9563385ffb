/**
 * Classic consumer group protocol (JoinGroup / SyncGroup / Heartbeat / LeaveGroup) and committed
 * offsets, modelled on Kafka's GroupCoordinator:
 *
 *   Empty → PreparingRebalance → CompletingRebalance → Stable → (PreparingRebalance ...)
 *
 * A rebalance completes when every known member has rejoined or the rebalance timeout (largest
 * member rebalanceTimeout) expires, evicting members that did not rejoin. Members that stop
 * heartbeating for their session timeout are evicted and trigger a rebalance.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode } from './error-codes.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface GroupProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinGroupParams {
  groupId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string;
  protocols: GroupProtocol[];
  clientId: string;
  clientHost: string;
  /** JoinGroup v4+: a member without id gets MEMBER_ID_REQUIRED and must rejoin with it. */
  requireKnownMemberId: boolean;
}

export interface JoinGroupResult {
  errorCode: number;
  generationId: number;
  protocolName: string;
  leaderId: string;
  memberId: string;
  members: Array<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>;
}

export interface SyncGroupResult {
  errorCode: number;
  assignment: Buffer;
}

export interface CommittedOffset {
  offset: number;
  metadata: string | null;
  commitTimestamp: number;
}

export interface GroupMemberDescription {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  /** Metadata of the selected protocol (empty until the group has a protocol). */
  metadata: Buffer;
  assignment: Buffer;
}

export interface GroupDescription {
  groupId: string;
  state: GroupState;
  generationId: number;
  protocolType: string;
  protocol: string;
  leaderId: string | null;
  members: GroupMemberDescription[];
}

const EMPTY = Buffer.alloc(0);

class Member {
  assignment: Buffer = EMPTY;
  joinCallback: ((r: JoinGroupResult) => void) | null = null;
  syncCallback: ((r: SyncGroupResult) => void) | null = null;
  sessionTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly memberId: string,
    public groupInstanceId: string | null,
    public clientId: string,
    public clientHost: string,
    public sessionTimeoutMs: number,
    public rebalanceTimeoutMs: number,
    public protocolType: string,
    public protocols: GroupProtocol[],
  ) {}

  metadataFor(protocol: string | null): Buffer {
    if (protocol === null) return EMPTY;
    return this.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY;
  }

  sameProtocols(protocols: GroupProtocol[]): boolean {
    return (
      protocols.length === this.protocols.length &&
      protocols.every(
        (p, i) => p.name === this.protocols[i]!.name && p.metadata.equals(this.protocols[i]!.metadata),
      )
    );
  }
}

class Group {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** Member ids handed out with MEMBER_ID_REQUIRED that have not joined yet. */
  readonly pendingMembers = new Map<string, NodeJS.Timeout>();
  rebalanceTimer: NodeJS.Timeout | null = null;
  initialDelayUntil = 0;
  initialDelayTimer: NodeJS.Timeout | null = null;
  readonly offsets = new Map<string, Map<number, CommittedOffset>>();

  constructor(readonly groupId: string) {}
}

export interface GroupCoordinatorOptions {
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  initialRebalanceDelayMs: number;
  log: (line: string) => void;
}

const MAX_METADATA_LENGTH = 4096;

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  private closed = false;

  constructor(private readonly opts: GroupCoordinatorOptions) {}

  // ------------------------------------------------------------------ JoinGroup

  joinGroup(p: JoinGroupParams): Promise<JoinGroupResult> | JoinGroupResult {
    const fail = (errorCode: number, memberId = p.memberId): JoinGroupResult => ({
      errorCode,
      generationId: -1,
      protocolName: '',
      leaderId: '',
      memberId,
      members: [],
    });
    if (!p.groupId) return fail(ErrorCode.INVALID_GROUP_ID);
    if (
      p.sessionTimeoutMs < this.opts.minSessionTimeoutMs ||
      p.sessionTimeoutMs > this.opts.maxSessionTimeoutMs
    ) {
      return fail(ErrorCode.INVALID_SESSION_TIMEOUT);
    }
    let group = this.groups.get(p.groupId);
    if (!group) {
      if (p.memberId !== '') return fail(ErrorCode.UNKNOWN_MEMBER_ID);
      group = new Group(p.groupId);
      this.groups.set(p.groupId, group);
    }
    if (!this.supportsProtocols(group, p.protocolType, p.protocols))
      return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);

    if (p.memberId === '') {
      const memberId = `${p.clientId || 'member'}-${randomUUID()}`;
      if (p.requireKnownMemberId) {
        const g = group;
        const timer = setTimeout(() => {
          g.pendingMembers.delete(memberId);
          if (g.state === 'PreparingRebalance') this.tryCompleteJoin(g);
        }, p.sessionTimeoutMs);
        timer.unref();
        group.pendingMembers.set(memberId, timer);
        return fail(ErrorCode.MEMBER_ID_REQUIRED, memberId);
      }
      return this.addMemberAndRebalance(group, memberId, p);
    }

    const pending = group.pendingMembers.get(p.memberId);
    if (pending) {
      clearTimeout(pending);
      group.pendingMembers.delete(p.memberId);
      return this.addMemberAndRebalance(group, p.memberId, p);
    }
    const member = group.members.get(p.memberId);
    if (!member) return fail(ErrorCode.UNKNOWN_MEMBER_ID);

    switch (group.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(group, member, p);
      case 'CompletingRebalance':
        if (member.sameProtocols(p.protocols)) return this.currentJoinResult(group, member);
        return this.updateMemberAndRebalance(group, member, p);
      case 'Stable':
        if (member.memberId !== group.leaderId && member.sameProtocols(p.protocols)) {
          this.heartbeatMember(group, member);
          return this.currentJoinResult(group, member);
        }
        return this.updateMemberAndRebalance(group, member, p);
      default:
        return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  private currentJoinResult(group: Group, member: Member): JoinGroupResult {
    const isLeader = member.memberId === group.leaderId;
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolName: group.protocolName ?? '',
      leaderId: group.leaderId ?? '',
      memberId: member.memberId,
      members: isLeader ? this.memberMetadata(group) : [],
    };
  }

  private memberMetadata(group: Group): JoinGroupResult['members'] {
    return [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.metadataFor(group.protocolName),
    }));
  }

  private supportsProtocols(group: Group, protocolType: string, protocols: GroupProtocol[]): boolean {
    if (!protocolType || protocols.length === 0) return false;
    if (group.members.size === 0) return true;
    if (protocolType !== group.protocolType) return false;
    const candidates = this.candidateProtocols(group);
    return protocols.some((p) => candidates.has(p.name));
  }

  private candidateProtocols(group: Group): Set<string> {
    let set: Set<string> | null = null;
    for (const m of group.members.values()) {
      const names = new Set<string>(m.protocols.map((p) => p.name));
      if (set === null) set = names;
      else for (const n of [...set]) if (!names.has(n)) set.delete(n);
    }
    return set ?? new Set<string>();
  }

  private addMemberAndRebalance(
    group: Group,
    memberId: string,
    p: JoinGroupParams,
  ): Promise<JoinGroupResult> {
    const member = new Member(
      memberId,
      p.groupInstanceId,
      p.clientId,
      p.clientHost,
      p.sessionTimeoutMs,
      p.rebalanceTimeoutMs,
      p.protocolType,
      p.protocols,
    );
    if (group.members.size === 0) group.protocolType = p.protocolType;
    group.members.set(memberId, member);
    const result = new Promise<JoinGroupResult>((resolve) => {
      member.joinCallback = resolve;
    });
    this.opts.log(`group ${group.groupId}: member ${memberId} joined (${group.members.size} member(s))`);
    if (group.state === 'PreparingRebalance') this.tryCompleteJoin(group);
    else this.prepareRebalance(group, `member ${memberId} joined`);
    return result;
  }

  private updateMemberAndRebalance(
    group: Group,
    member: Member,
    p: JoinGroupParams,
  ): Promise<JoinGroupResult> {
    member.protocols = p.protocols;
    member.sessionTimeoutMs = p.sessionTimeoutMs;
    member.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    member.clientId = p.clientId;
    member.clientHost = p.clientHost;
    if (member.sessionTimer) {
      clearTimeout(member.sessionTimer);
      member.sessionTimer = null;
    }
    if (member.joinCallback) {
      // A duplicate join from the same member replaces the parked one.
      member.joinCallback({
        ...this.currentJoinResult(group, member),
        errorCode: ErrorCode.REBALANCE_IN_PROGRESS,
      });
    }
    const result = new Promise<JoinGroupResult>((resolve) => {
      member.joinCallback = resolve;
    });
    if (group.state === 'PreparingRebalance') this.tryCompleteJoin(group);
    else this.prepareRebalance(group, `member ${member.memberId} rejoined`);
    return result;
  }

  private prepareRebalance(group: Group, reason: string): void {
    if (group.state === 'CompletingRebalance') {
      // Members waiting in SyncGroup must rejoin.
      for (const m of group.members.values()) {
        if (m.syncCallback) {
          const cb = m.syncCallback;
          m.syncCallback = null;
          cb({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY });
        }
        m.assignment = EMPTY;
      }
    }
    const wasEmpty = group.state === 'Empty';
    group.state = 'PreparingRebalance';
    this.opts.log(`group ${group.groupId}: preparing rebalance (${reason})`);
    let timeout = 0;
    for (const m of group.members.values()) timeout = Math.max(timeout, m.rebalanceTimeoutMs);
    if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = setTimeout(() => {
      group.rebalanceTimer = null;
      if (group.state === 'PreparingRebalance') this.completeJoin(group);
    }, timeout);
    group.rebalanceTimer.unref();
    if (wasEmpty && this.opts.initialRebalanceDelayMs > 0) {
      group.initialDelayUntil = Date.now() + this.opts.initialRebalanceDelayMs;
      if (group.initialDelayTimer) clearTimeout(group.initialDelayTimer);
      group.initialDelayTimer = setTimeout(() => {
        group.initialDelayTimer = null;
        group.initialDelayUntil = 0;
        this.tryCompleteJoin(group);
      }, this.opts.initialRebalanceDelayMs);
      group.initialDelayTimer.unref();
      return;
    }
    this.tryCompleteJoin(group);
  }

  private tryCompleteJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance' || this.closed) return;
    if (group.initialDelayUntil > Date.now()) return;
    if (group.pendingMembers.size > 0) return;
    for (const m of group.members.values()) if (!m.joinCallback) return;
    this.completeJoin(group);
  }

  private completeJoin(group: Group): void {
    if (group.rebalanceTimer) {
      clearTimeout(group.rebalanceTimer);
      group.rebalanceTimer = null;
    }
    for (const m of [...group.members.values()]) {
      if (!m.joinCallback) {
        this.opts.log(`group ${group.groupId}: member ${m.memberId} evicted (did not rejoin in time)`);
        this.dropMember(group, m);
      }
    }
    group.generationId++;
    if (group.members.size === 0) {
      group.state = 'Empty';
      group.protocolName = null;
      group.protocolType = null;
      group.leaderId = null;
      this.opts.log(`group ${group.groupId}: empty (generation ${group.generationId})`);
      return;
    }
    group.protocolName = this.selectProtocol(group);
    if (group.leaderId === null || !group.members.has(group.leaderId)) {
      group.leaderId = group.members.keys().next().value ?? null;
    }
    group.state = 'CompletingRebalance';
    this.opts.log(
      `group ${group.groupId}: generation ${group.generationId} with ${group.members.size} member(s), leader ${group.leaderId}`,
    );
    const all = this.memberMetadata(group);
    for (const m of group.members.values()) {
      const cb = m.joinCallback!;
      m.joinCallback = null;
      this.heartbeatMember(group, m);
      cb({
        errorCode: ErrorCode.NONE,
        generationId: group.generationId,
        protocolName: group.protocolName,
        leaderId: group.leaderId ?? '',
        memberId: m.memberId,
        members: m.memberId === group.leaderId ? all : [],
      });
    }
  }

  private selectProtocol(group: Group): string {
    const candidates = this.candidateProtocols(group);
    const votes = new Map<string, number>();
    for (const m of group.members.values()) {
      const choice = m.protocols.find((p) => candidates.has(p.name));
      if (choice) votes.set(choice.name, (votes.get(choice.name) ?? 0) + 1);
    }
    let best = '';
    let bestVotes = -1;
    for (const [name, n] of votes) {
      if (n > bestVotes) {
        best = name;
        bestVotes = n;
      }
    }
    return best;
  }

  /** Reset the member's session expiry. */
  private heartbeatMember(group: Group, member: Member): void {
    if (this.closed) return;
    if (member.sessionTimer) {
      member.sessionTimer.refresh();
      return;
    }
    member.sessionTimer = setTimeout(() => this.onSessionExpired(group, member), member.sessionTimeoutMs);
    member.sessionTimer.unref();
  }

  private onSessionExpired(group: Group, member: Member): void {
    member.sessionTimer = null;
    if (group.members.get(member.memberId) !== member) return;
    if (member.joinCallback || member.syncCallback) {
      // Parked in a join or sync: the rebalance itself bounds how long that can last.
      this.heartbeatMember(group, member);
      return;
    }
    this.opts.log(`group ${group.groupId}: member ${member.memberId} session expired`);
    this.removeMemberAndUpdateGroup(group, member);
  }

  private dropMember(group: Group, member: Member): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = null;
    group.members.delete(member.memberId);
  }

  private removeMemberAndUpdateGroup(group: Group, member: Member): void {
    this.dropMember(group, member);
    if (member.joinCallback) {
      const cb = member.joinCallback;
      member.joinCallback = null;
      cb({
        errorCode: ErrorCode.UNKNOWN_MEMBER_ID,
        generationId: -1,
        protocolName: '',
        leaderId: '',
        memberId: member.memberId,
        members: [],
      });
    }
    if (member.syncCallback) {
      const cb = member.syncCallback;
      member.syncCallback = null;
      cb({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY });
    }
    if (group.leaderId === member.memberId) group.leaderId = null;
    if (group.state === 'Stable' || group.state === 'CompletingRebalance') {
      this.prepareRebalance(group, `member ${member.memberId} left`);
    } else if (group.state === 'PreparingRebalance') {
      this.tryCompleteJoin(group);
    }
  }

  // ------------------------------------------------------------------ SyncGroup / Heartbeat / Leave

  syncGroup(
    groupId: string,
    generationId: number,
    memberId: string,
    assignments: Array<{ memberId: string; assignment: Buffer }>,
  ): Promise<SyncGroupResult> | SyncGroupResult {
    const fail = (errorCode: number): SyncGroupResult => ({ errorCode, assignment: EMPTY });
    const group = this.groups.get(groupId);
    if (!group) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    const member = group.members.get(memberId);
    if (!member) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    if (generationId !== group.generationId) return fail(ErrorCode.ILLEGAL_GENERATION);
    switch (group.state) {
      case 'PreparingRebalance':
        return fail(ErrorCode.REBALANCE_IN_PROGRESS);
      case 'Stable':
        this.heartbeatMember(group, member);
        return { errorCode: ErrorCode.NONE, assignment: member.assignment };
      case 'CompletingRebalance': {
        this.heartbeatMember(group, member);
        const result = new Promise<SyncGroupResult>((resolve) => {
          member.syncCallback = resolve;
        });
        if (memberId === group.leaderId) {
          const byMember = new Map(assignments.map((a) => [a.memberId, a.assignment]));
          for (const m of group.members.values())
            m.assignment = Buffer.from(byMember.get(m.memberId) ?? EMPTY);
          group.state = 'Stable';
          this.opts.log(`group ${group.groupId}: stable at generation ${group.generationId}`);
          for (const m of group.members.values()) {
            if (m.syncCallback) {
              const cb = m.syncCallback;
              m.syncCallback = null;
              this.heartbeatMember(group, m);
              cb({ errorCode: ErrorCode.NONE, assignment: m.assignment });
            }
          }
        }
        return result;
      }
      default:
        return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  heartbeat(groupId: string, generationId: number, memberId: string): number {
    const group = this.groups.get(groupId);
    if (!group || group.state === 'Empty' || group.state === 'Dead') return ErrorCode.UNKNOWN_MEMBER_ID;
    const member = group.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    this.heartbeatMember(group, member);
    return group.state === 'Stable' ? ErrorCode.NONE : ErrorCode.REBALANCE_IN_PROGRESS;
  }

  leaveGroup(groupId: string, memberId: string): number {
    const group = this.groups.get(groupId);
    if (!group) return ErrorCode.UNKNOWN_MEMBER_ID;
    const pending = group.pendingMembers.get(memberId);
    if (pending) {
      clearTimeout(pending);
      group.pendingMembers.delete(memberId);
      this.tryCompleteJoin(group);
      return ErrorCode.NONE;
    }
    const member = group.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.opts.log(`group ${groupId}: member ${memberId} left`);
    this.removeMemberAndUpdateGroup(group, member);
    return ErrorCode.NONE;
  }

  // ------------------------------------------------------------------ Offsets

  /**
   * Validate an OffsetCommit against the group; returns the error for every partition or NONE.
   * `generationId < 0` with an empty member id is a "simple" commit, allowed for groups without
   * active members.
   */
  checkCommit(groupId: string, generationId: number, memberId: string): number {
    if (!groupId) return ErrorCode.INVALID_GROUP_ID;
    const group = this.groups.get(groupId);
    if (!group) return generationId < 0 ? ErrorCode.NONE : ErrorCode.ILLEGAL_GENERATION;
    if (generationId < 0 && group.state === 'Empty') return ErrorCode.NONE;
    const member = group.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    if (group.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    this.heartbeatMember(group, member);
    return ErrorCode.NONE;
  }

  commitOffset(
    groupId: string,
    topic: string,
    partition: number,
    offset: number,
    metadata: string | null,
  ): number {
    if (metadata !== null && metadata.length > MAX_METADATA_LENGTH)
      return ErrorCode.OFFSET_METADATA_TOO_LARGE;
    let group = this.groups.get(groupId);
    if (!group) {
      group = new Group(groupId);
      this.groups.set(groupId, group);
    }
    let byPartition = group.offsets.get(topic);
    if (!byPartition) {
      byPartition = new Map();
      group.offsets.set(topic, byPartition);
    }
    byPartition.set(partition, { offset, metadata, commitTimestamp: Date.now() });
    return ErrorCode.NONE;
  }

  committed(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.groups.get(groupId)?.offsets.get(topic)?.get(partition);
  }

  /** All committed offsets of a group: topic → partition → offset. */
  committedOffsets(groupId: string): Map<string, Map<number, CommittedOffset>> {
    return this.groups.get(groupId)?.offsets ?? new Map();
  }

  /** Forget committed offsets of a deleted topic. */
  forgetTopic(topic: string): void {
    for (const g of this.groups.values()) g.offsets.delete(topic);
  }

  // ------------------------------------------------------------------ Admin / inspection

  describe(groupId: string): GroupDescription | undefined {
    const group = this.groups.get(groupId);
    if (!group) return undefined;
    const stable = group.state === 'Stable';
    return {
      groupId,
      state: group.state,
      generationId: group.generationId,
      protocolType: group.protocolType ?? '',
      protocol: group.protocolName ?? '',
      leaderId: group.leaderId,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        sessionTimeoutMs: m.sessionTimeoutMs,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        metadata: stable ? m.metadataFor(group.protocolName) : EMPTY,
        assignment: stable ? m.assignment : EMPTY,
      })),
    };
  }

  list(): Array<{ groupId: string; protocolType: string; state: GroupState }> {
    return [...this.groups.values()].map((g) => ({
      groupId: g.groupId,
      protocolType: g.protocolType ?? '',
      state: g.state,
    }));
  }

  deleteGroup(groupId: string): number {
    const group = this.groups.get(groupId);
    if (!group) return ErrorCode.GROUP_ID_NOT_FOUND;
    if (group.state !== 'Empty') return ErrorCode.NON_EMPTY_GROUP;
    for (const t of group.pendingMembers.values()) clearTimeout(t);
    if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer);
    if (group.initialDelayTimer) clearTimeout(group.initialDelayTimer);
    group.state = 'Dead';
    this.groups.delete(groupId);
    return ErrorCode.NONE;
  }

  /** Stop all timers (broker shutdown). Parked requests are abandoned with their connections. */
  close(): void {
    this.closed = true;
    for (const g of this.groups.values()) {
      if (g.rebalanceTimer) clearTimeout(g.rebalanceTimer);
      if (g.initialDelayTimer) clearTimeout(g.initialDelayTimer);
      for (const t of g.pendingMembers.values()) clearTimeout(t);
      for (const m of g.members.values()) if (m.sessionTimer) clearTimeout(m.sessionTimer);
    }
  }
}
