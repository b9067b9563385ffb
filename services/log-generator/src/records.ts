import type { ProduceMessage } from '@fleet/chassis';

export type Level = 'debug' | 'info' | 'warn' | 'error';

/** Level of the n-th record of a calm service: 70 % info, 20 % debug, 7 % warn, 3 % error. */
export function calmLevel(n: number): Level {
  const slot = n % 100;
  if (slot < 3) return 'error';
  if (slot < 10) return 'warn';
  if (slot < 30) return 'debug';
  return 'info';
}

const MESSAGES: Record<Level, readonly string[]> = {
  debug: ['cache lookup', 'query planned', 'connection reused', 'payload parsed'],
  info: ['request completed', 'user signed in', 'order accepted', 'job finished'],
  warn: ['slow downstream call', 'retrying request', 'pool nearly exhausted'],
  error: ['downstream call failed', 'payment declined by gateway', 'timeout talking to database'],
};

/**
 * One synthetic log record in the shape ALF reads (services/alf/README.md, "Input"): a JSON value
 * with timestamp, service, level, host and message, and the `service`/`level` headers that let ALF
 * drop a flood before parsing it.
 */
export function logRecord(
  service: string,
  level: Level,
  host: string,
  seq: number,
  now: string,
): ProduceMessage {
  const texts = MESSAGES[level];
  const message = `${texts[seq % texts.length]} #${seq}`;
  return {
    key: host,
    value: JSON.stringify({ timestamp: now, service, level, host, message, fields: { seq } }),
    headers: { service, level },
  };
}
