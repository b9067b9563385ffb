/**
 * Fault injection: make the broker answer requests with an error code, drop the connection, or
 * delay the response, a given number of times. Rules are checked in the order they were added;
 * the first matching rule with remaining uses applies to a request.
 */

export type FaultAction =
  | { kind: 'error'; errorCode: number }
  | { kind: 'drop'; afterHandling: boolean }
  | { kind: 'delay'; ms: number };

export interface FaultMatchOptions {
  /** Only requests of this API key (default: any request). */
  apiKey?: number;
  /** Only requests received by this broker node id (default: any broker). */
  broker?: number;
  /** How many requests the rule applies to (default 1; Infinity for "until cleared"). */
  times?: number;
}

export class FaultRule {
  /** Requests this rule has been applied to. */
  hits = 0;
  remaining: number;

  constructor(
    readonly action: FaultAction,
    readonly apiKey: number | undefined,
    readonly broker: number | undefined,
    times: number,
    private readonly owner: FaultInjector,
  ) {
    this.remaining = times;
  }

  /** True once the rule has been used up (or cancelled). */
  get done(): boolean {
    return this.remaining <= 0;
  }

  cancel(): void {
    this.remaining = 0;
    this.owner.remove(this);
  }
}

export class FaultInjector {
  private rules: FaultRule[] = [];

  private add(action: FaultAction, opts: FaultMatchOptions): FaultRule {
    const times = opts.times ?? 1;
    if (!(times > 0)) throw new RangeError(`times must be > 0, got ${times}`);
    const rule = new FaultRule(action, opts.apiKey, opts.broker, times, this);
    this.rules.push(rule);
    return rule;
  }

  /** Answer the next `times` requests of `apiKey` with `errorCode` instead of handling them. */
  injectError(apiKey: number, errorCode: number, opts: Omit<FaultMatchOptions, 'apiKey'> = {}): FaultRule {
    return this.add({ kind: 'error', errorCode }, { ...opts, apiKey });
  }

  /**
   * Close the client connection when a matching request arrives, without answering. With
   * `afterHandling` the request is processed first (e.g. a produce is appended) and only the
   * response is lost, which exercises client retries and idempotence.
   */
  dropConnection(opts: FaultMatchOptions & { afterHandling?: boolean } = {}): FaultRule {
    return this.add({ kind: 'drop', afterHandling: opts.afterHandling ?? false }, opts);
  }

  /** Hold the response to matching requests for `ms` milliseconds. */
  delay(ms: number, opts: FaultMatchOptions = {}): FaultRule {
    if (!(ms >= 0)) throw new RangeError(`ms must be >= 0, got ${ms}`);
    return this.add({ kind: 'delay', ms }, opts);
  }

  /** Remove every rule. */
  clear(): void {
    for (const r of this.rules) r.remaining = 0;
    this.rules = [];
  }

  /** Active rules. */
  get active(): readonly FaultRule[] {
    return this.rules;
  }

  /** @internal Remove a rule. */
  remove(rule: FaultRule): void {
    this.rules = this.rules.filter((r) => r !== rule);
  }

  /** @internal Find and consume the rule applying to a request, if any. */
  take(nodeId: number, apiKey: number): FaultRule | undefined {
    if (this.rules.length === 0) return undefined;
    for (const rule of this.rules) {
      if (rule.remaining <= 0) continue;
      if (rule.apiKey !== undefined && rule.apiKey !== apiKey) continue;
      if (rule.broker !== undefined && rule.broker !== nodeId) continue;
      rule.remaining--;
      rule.hits++;
      if (rule.remaining <= 0) this.remove(rule);
      return rule;
    }
    return undefined;
  }
}
