// npm pack / publish: bundle the repository's templates (and the chassis version they target) into
// the package, so that `npx create-service --standalone` works outside the monorepo.
// `node scripts/prepack.mjs --clean` (postpack) removes the copy again.
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundled = join(pkgDir, 'templates');
rmSync(bundled, { recursive: true, force: true });
if (!process.argv.includes('--clean')) {
  const repo = join(pkgDir, '../..');
  cpSync(join(repo, 'templates'), bundled, { recursive: true });
  const { version } = JSON.parse(readFileSync(join(repo, 'packages/chassis/package.json'), 'utf8'));
  // Same test as src/repo.ts detectFlagsModule: the Service interface has a `flags` member
  const service = readFileSync(join(repo, 'packages/chassis/src/service.ts'), 'utf8');
  const body = service.slice(service.indexOf('interface Service<'));
  const flags = /^\s*(readonly\s+)?flags\s*[:?]/m.test(body.slice(0, body.indexOf('\n}')));
  writeFileSync(join(bundled, 'chassis.json'), `${JSON.stringify({ version, flags }, null, 2)}\n`);
}
