import { readFileSync } from 'node:fs';

/** This package's version (same relative path from src/ and dist/). */
export const CREATE_SERVICE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export const GENERATOR = `create-service@${CREATE_SERVICE_VERSION}`;
