// Helpers for chassis migrations (not a migration itself: only `<semver>.mjs` files are).
// Every helper reads a file of the service, applies an edit, and writes it back only when the
// content changed and this is not a dry run, logging what it did (or would do). Missing files are
// skipped, so a migration can run against services that never had them.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseAllDocuments } from 'yaml';

/**
 * Replace the content of `rel` (relative to the service) with `edit(text)`.
 * Returns true when the file changed (or would change, in a dry run).
 */
export async function editText(serviceDir, rel, edit, { dryRun, log }) {
  const file = join(serviceDir, rel);
  if (!existsSync(file)) return false;
  const before = await readFile(file, 'utf8');
  const after = await edit(before);
  if (after === before || after === undefined) return false;
  if (dryRun) log(`would update ${rel}`);
  else {
    await writeFile(file, after);
    log(`updated ${rel}`);
  }
  return true;
}

/** Edit a JSON file: `edit(value)` mutates (or returns) the parsed value. Formatting follows Biome. */
export function editJson(serviceDir, rel, edit, context) {
  return editText(
    serviceDir,
    rel,
    async (text) => {
      const value = JSON.parse(text);
      const edited = (await edit(value)) ?? value;
      const out = formatJson(edited, rel);
      return JSON.stringify(JSON.parse(text)) === JSON.stringify(edited) ? text : out;
    },
    context,
  );
}

/**
 * Edit a YAML file (all documents), keeping comments and layout: `edit(documents)` mutates the
 * `yaml` Document objects (doc.getIn / doc.setIn / doc.toJS()).
 */
export function editYaml(serviceDir, rel, edit, context) {
  return editText(
    serviceDir,
    rel,
    async (text) => {
      const docs = parseAllDocuments(text);
      for (const doc of docs) if (doc.errors.length > 0) throw new Error(`${rel}: ${doc.errors[0].message}`);
      const before = docs.map((d) => d.toString()).join('');
      await edit(docs);
      const after = docs.map((d) => d.toString()).join('');
      return after === before ? text : after;
    },
    context,
  );
}

/** Rename an environment variable (whole-word, case-sensitive) in the given files. */
export async function renameEnvVar(serviceDir, files, from, to, context) {
  const pattern = new RegExp(`\\b${from}\\b`, 'g');
  let changed = false;
  for (const rel of files) {
    if (await editText(serviceDir, rel, (text) => text.replace(pattern, to), context)) changed = true;
  }
  return changed;
}

const LINE_WIDTH = 110;

/**
 * JSON as Biome formats it, so that `biome check` stays clean: package.json the way npm writes it
 * (everything expanded); other files with objects expanded and scalar arrays inline when they fit.
 */
export function formatJson(value, path = '') {
  if (basename(path) === 'package.json') return `${JSON.stringify(value, null, 2)}\n`;
  return `${print(value, '', 0)}\n`;
}

function print(value, indent, prefixWidth) {
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((v) => v === null || typeof v !== 'object')) {
      const inline = `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
      if (indent.length + prefixWidth + inline.length + 1 <= LINE_WIDTH) return inline;
    }
    return `[\n${value.map((v) => `${inner}${print(v, inner, 0)}`).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    const lines = entries.map(([k, v]) => {
      const key = `${JSON.stringify(k)}: `;
      return `${inner}${key}${print(v, inner, key.length)}`;
    });
    return `{\n${lines.join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
