import { readFileSync } from 'node:fs';

/** The running chassis's version, from its package.json (same path from src/ and dist/). */
export const CHASSIS_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
