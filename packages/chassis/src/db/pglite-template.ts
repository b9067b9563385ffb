import { readFileSync } from 'node:fs';
import { access, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Where this PGlite version's fresh-database tarball is cached: the OS temp dir. */
export function pgliteTemplatePath(): string {
  const require = createRequire(import.meta.url);
  // The package does not export its package.json: step up from its main file (dist/index.cjs)
  const main = require.resolve('@electric-sql/pglite');
  const pkg = JSON.parse(readFileSync(join(dirname(main), '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return join(tmpdir(), `fleet-pglite-${pkg.version}.tar`);
}

let creating: Promise<string> | undefined;

/**
 * The path of a tarball of a freshly initialised PGlite database (`createPglite({ template })` and
 * `DbOptions.pgliteTemplate` start from it), created on first use: initdb runs once per PGlite
 * version and machine instead of once per database. Uncompressed: about 40 MB, but it loads in
 * roughly half the CPU time of the gzip dump. Safe across processes (written aside, then renamed).
 */
export async function cachedPgliteTemplate(): Promise<string> {
  const path = pgliteTemplatePath();
  if (
    await access(path).then(
      () => true,
      () => false,
    )
  )
    return path;
  creating ??= (async () => {
    try {
      const { PGlite } = await import('@electric-sql/pglite');
      const db = await PGlite.create();
      const dump = await db.dumpDataDir('none');
      await db.close();
      const temporary = `${path}.${process.pid}.tmp`;
      await writeFile(temporary, Buffer.from(await dump.arrayBuffer()));
      await rename(temporary, path);
      return path;
    } finally {
      creating = undefined;
    }
  })();
  return creating;
}
