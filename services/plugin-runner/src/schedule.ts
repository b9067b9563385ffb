/**
 * When an instance runs: every fixed interval (`{ "every": "5m" }`) or on a cron expression
 * (`{ "cron": "*\/15 * * * *", "timezone": "Europe/Stockholm" }`, croner syntax: 5 fields, or 6
 * with seconds first).
 */
import { Cron } from 'croner';

export type ScheduleSpec = { every: string | number } | { cron: string; timezone?: string };

export interface Schedule {
  readonly spec: ScheduleSpec;
  /** The first run time strictly after `after`. */
  next(after: Date): Date;
  /** Human-readable form for logs and the API. */
  readonly text: string;
}

export class ScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleError';
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/** `250ms`, `30s`, `5m`, `1h30m`, `1d`, or a number of ms. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0)
      throw new ScheduleError(`duration must be a positive number of ms, got ${value}`);
    return Math.round(value);
  }
  const text = value.trim().replace(/\s+/g, '');
  if (/^\d+$/.test(text)) return parseDuration(Number(text));
  if (!DURATION.test(text))
    throw new ScheduleError(`'${value}' is not a duration (e.g. 30s, 5m, 1h30m, 1d, 500ms)`);
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(PART)) ms += Number(amount) * UNITS[unit!]!;
  if (ms <= 0) throw new ScheduleError(`duration '${value}' must be positive`);
  return Math.round(ms);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parse and check a schedule; `minIntervalMs` bounds how often an instance may run. */
export function parseSchedule(spec: unknown, minIntervalMs = 0): Schedule {
  if (typeof spec === 'string') {
    // Shorthand: a duration, or a cron expression
    return parseSchedule(/\s/.test(spec.trim()) ? { cron: spec } : { every: spec }, minIntervalMs);
  }
  if (!isRecord(spec))
    throw new ScheduleError(
      'schedule must be { "every": "5m" } or { "cron": "*/5 * * * *", "timezone"?: "UTC" }',
    );
  const keys = Object.keys(spec);
  if ('every' in spec) {
    const unknown = keys.filter((k) => k !== 'every');
    if (unknown.length > 0)
      throw new ScheduleError(`schedule: unknown key(s) ${unknown.join(', ')} next to 'every'`);
    const every = spec.every;
    if (typeof every !== 'string' && typeof every !== 'number')
      throw new ScheduleError('schedule.every must be a duration');
    const ms = parseDuration(every);
    if (ms < minIntervalMs) throw new ScheduleError(`schedule.every must be at least ${minIntervalMs} ms`);
    return {
      spec: { every },
      text: `every ${typeof every === 'number' ? `${every}ms` : every}`,
      next: (after) => new Date(after.getTime() + ms),
    };
  }
  if ('cron' in spec) {
    const unknown = keys.filter((k) => k !== 'cron' && k !== 'timezone');
    if (unknown.length > 0)
      throw new ScheduleError(`schedule: unknown key(s) ${unknown.join(', ')} next to 'cron'`);
    const { cron: pattern, timezone } = spec;
    if (typeof pattern !== 'string' || pattern.trim() === '')
      throw new ScheduleError('schedule.cron must be a cron expression');
    if (timezone !== undefined && (typeof timezone !== 'string' || timezone === ''))
      throw new ScheduleError('schedule.timezone must be an IANA time zone name');
    let job: Cron;
    try {
      job = new Cron(pattern, { paused: true, ...(timezone ? { timezone } : {}) });
      const first = job.nextRun(new Date());
      if (!first) throw new Error('it never fires');
      const second = job.nextRun(first);
      if (second && second.getTime() - first.getTime() < minIntervalMs)
        throw new Error(`it fires more often than every ${minIntervalMs} ms`);
    } catch (err) {
      throw new ScheduleError(`schedule.cron '${pattern}': ${(err as Error).message}`);
    }
    return {
      spec: { cron: pattern, ...(timezone ? { timezone: timezone as string } : {}) },
      text: `cron ${pattern}${timezone ? ` (${timezone})` : ''}`,
      next: (after) => job.nextRun(after) ?? new Date(8.64e15),
    };
  }
  throw new ScheduleError("schedule needs 'every' or 'cron'");
}
