/**
 * The per-instance circuit breaker, as pure functions of the state kept in the database (so every
 * replica sees the same circuit). After `threshold` failed runs in a row the circuit opens: the
 * instance is not run until `openUntil`. The next run is the half-open trial: success closes the
 * circuit, failure opens it again for twice as long (up to maxCooldownMs).
 */

export interface CircuitPolicy {
  /** Failed runs in a row that open the circuit. */
  threshold: number;
  /** First open period, ms. */
  cooldownMs: number;
  maxCooldownMs: number;
}

export interface CircuitState {
  /** Failed runs in a row. */
  failures: number;
  /** Times the circuit opened since the last success. */
  opens: number;
  /** Epoch ms until which the instance is paused; null: closed (or half-open once passed). */
  openUntil: number | null;
}

export type CircuitView = 'closed' | 'open' | 'half-open';

export function circuitAfterRun(
  prev: CircuitState,
  succeeded: boolean,
  now: number,
  policy: CircuitPolicy,
): CircuitState {
  if (succeeded) return { failures: 0, opens: 0, openUntil: null };
  const failures = prev.failures + 1;
  if (failures < policy.threshold) return { failures, opens: prev.opens, openUntil: null };
  const cooldown = Math.min(policy.maxCooldownMs, policy.cooldownMs * 2 ** Math.min(prev.opens, 30));
  return { failures, opens: prev.opens + 1, openUntil: now + cooldown };
}

export function circuitView(state: CircuitState, now: number, threshold: number): CircuitView {
  if (state.openUntil !== null && state.openUntil > now) return 'open';
  return state.failures >= threshold ? 'half-open' : 'closed';
}
