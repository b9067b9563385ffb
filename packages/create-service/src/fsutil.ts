import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';

/** Directories never treated as part of a service's sources. */
export const IGNORED_DIRS = new Set(['node_modules', 'dist', 'coverage', '.turbo', '.git']);

export interface ListOptions {
  /** Directory names to skip wherever they occur (default IGNORED_DIRS). */
  ignoreDirs?: ReadonlySet<string>;
  /** Relative (posix) paths of directories to skip. */
  ignorePaths?: ReadonlySet<string>;
}

/** Every file under `root`, as sorted posix paths relative to it (symlinks are not followed). */
export async function listFiles(root: string, options: ListOptions = {}): Promise<string[]> {
  const ignoreDirs = options.ignoreDirs ?? IGNORED_DIRS;
  const out: string[] = [];
  async function walk(dir: string): Promise<void> {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries) {
      const abs = join(dir, entry.name);
      const rel = toPosix(relative(root, abs));
      if (entry.isDirectory()) {
        if (ignoreDirs.has(entry.name) || options.ignorePaths?.has(rel)) continue;
        await walk(abs);
      } else if (entry.isFile()) {
        out.push(rel);
      }
    }
  }
  if (existsSync(root)) await walk(root);
  return out.sort();
}

/** path → content of every file under `root`. */
export async function readTree(root: string, options: ListOptions = {}): Promise<Map<string, string>> {
  const files = await listFiles(root, options);
  const tree = new Map<string, string>();
  for (const file of files) tree.set(file, await readFile(join(root, file), 'utf8'));
  return tree;
}

export async function writeFileEnsuringDir(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}

export async function removeQuietly(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

export function toPosix(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}

export function sha256(data: string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A content hash of a set of files: independent of listing order, sensitive to paths and contents. */
export function hashTree(tree: ReadonlyMap<string, string>): string {
  const hash = createHash('sha256');
  for (const path of [...tree.keys()].sort()) {
    hash.update(`${path}\0${sha256(tree.get(path)!)}\n`);
  }
  return `sha256:${hash.digest('hex')}`;
}

export async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

const LINE_WIDTH = 110;

/**
 * JSON the way Biome formats it (so generated files pass `biome check`): objects expanded, two-space
 * indentation, arrays of scalars on one line when they fit in 110 columns, trailing newline.
 */
export function formatJson(value: unknown): string {
  return `${printJson(value, '', 0)}\n`;
}

function printJson(value: unknown, indent: string, prefixWidth: number): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const inner = `${indent}  `;
    const scalars = value.every((v) => v === null || typeof v !== 'object');
    if (scalars) {
      const inline = `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
      if (indent.length + prefixWidth + inline.length + 1 <= LINE_WIDTH) return inline;
    }
    return `[\n${value.map((v) => `${inner}${printJson(v, inner, 0)}`).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    const inner = `${indent}  `;
    const lines = entries.map(([k, v]) => {
      const key = `${JSON.stringify(k)}: `;
      return `${inner}${key}${printJson(v, inner, key.length)}`;
    });
    return `{\n${lines.join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
