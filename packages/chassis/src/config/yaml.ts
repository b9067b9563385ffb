/**
 * YAML parsing, loaded on first use: only services with a YAML config or flags file pay for the
 * parser (20–35 ms of CPU and 70 modules at start-up). `yaml` resolves to CommonJS in Node, so a
 * synchronous require keeps the callers synchronous.
 */
import { createRequire } from 'node:module';

type Yaml = typeof import('yaml');

let loaded: Yaml | undefined;

export function parseYaml(text: string): unknown {
  loaded ??= createRequire(import.meta.url)('yaml') as Yaml;
  return loaded.parse(text);
}
