import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatJson, hashTree } from '../src/fsutil.js';
import { hasConflictMarkers, mergeFile, unifiedDiff } from '../src/merge.js';
import { matchesWorkspace } from '../src/repo.js';
import { tsString } from '../src/templates.js';
import { descriptionProblem, nameProblem, portProblem } from '../src/validate.js';
import { exec, REPO_ROOT, registryUnreachable } from './helpers.js';

const labels = { ours: 'local', theirs: 'template base@2.0.0' };

describe('three-way merge', () => {
  const base = 'one\ntwo\nthree\nfour\nfive\nsix\nseven\n';

  it('takes each side’s change when they touch different lines', () => {
    const ours = base.replace('two', 'TWO (local)');
    const theirs = base.replace('six', 'SIX (template)');
    expect(mergeFile(ours, base, theirs, labels)).toEqual({
      text: 'one\nTWO (local)\nthree\nfour\nfive\nSIX (template)\nseven\n',
      conflict: false,
    });
  });

  it('shortcuts: unchanged on one side, or the same change on both', () => {
    const changed = base.replace('four', '4');
    expect(mergeFile(base, base, changed, labels)).toEqual({ text: changed, conflict: false });
    expect(mergeFile(changed, base, base, labels)).toEqual({ text: changed, conflict: false });
    expect(mergeFile(changed, base, changed, labels)).toEqual({ text: changed, conflict: false });
  });

  it('marks overlapping changes as a conflict, never dropping either side', () => {
    const result = mergeFile(
      base.replace('four', 'four-local'),
      base,
      base.replace('four', 'four-template'),
      labels,
    );
    expect(result.conflict).toBe(true);
    expect(result.text).toBe(
      'one\ntwo\nthree\n<<<<<<< local\nfour-local\n=======\nfour-template\n>>>>>>> template base@2.0.0\nfive\nsix\nseven\n',
    );
    expect(hasConflictMarkers(result.text)).toBe(true);
    expect(hasConflictMarkers(base)).toBe(false);
  });
});

describe('unified diff', () => {
  it('matches diff -u hunks', () => {
    const a = `${Array.from({ length: 12 }, (_, i) => `line ${i + 1}`).join('\n')}\n`;
    const b = a.replace('line 2\n', 'line two\n').replace('line 11\n', '');
    expect(unifiedDiff(a, b, 'a/f', 'b/f')).toBe(
      [
        '--- a/f',
        '+++ b/f',
        '@@ -1,5 +1,5 @@',
        ' line 1',
        '-line 2',
        '+line two',
        ' line 3',
        ' line 4',
        ' line 5',
        '@@ -8,5 +8,4 @@',
        ' line 8',
        ' line 9',
        ' line 10',
        '-line 11',
        ' line 12',
        '',
      ].join('\n'),
    );
  });

  it('shows added and removed files against /dev/null, and nothing for equal texts', () => {
    expect(unifiedDiff(undefined, 'x\ny\n', 'a/f', 'b/f')).toBe(
      '--- /dev/null\n+++ b/f\n@@ -0,0 +1,2 @@\n+x\n+y\n',
    );
    expect(unifiedDiff('x\n', undefined, 'a/f', 'b/f')).toBe('--- a/f\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-x\n');
    expect(unifiedDiff('same\n', 'same\n', 'a', 'b')).toBe('');
  });
});

describe('validation', () => {
  it.each(['orders', 'a', 'svc-2', 'x'.repeat(63)])('accepts %s', (name) => {
    expect(nameProblem(name)).toBeUndefined();
  });

  it('checks ports and descriptions', () => {
    expect(portProblem(3000)).toBeUndefined();
    expect(portProblem(1023)).toMatch(/1024 to 65535/);
    expect(portProblem(Number.NaN)).toMatch(/1024 to 65535/);
    expect(descriptionProblem('fine')).toBeUndefined();
    expect(descriptionProblem('tab\there')).toMatch(/single line/);
    expect(descriptionProblem('x'.repeat(201))).toMatch(/200/);
  });

  it('matches workspace globs', () => {
    expect(matchesWorkspace('packages/*', 'packages/chassis')).toBe(true);
    expect(matchesWorkspace('./services/*/', 'services/a')).toBe(true);
    expect(matchesWorkspace('services/*', 'services/a/b')).toBe(false);
    expect(matchesWorkspace('apps/**', 'apps/a/b')).toBe(true);
    expect(matchesWorkspace('packages/chassis', 'packages/chassis')).toBe(true);
    expect(matchesWorkspace('packages/c*', 'packages/chassis')).toBe(true);
  });
});

describe('formatting', () => {
  it('writes JSON exactly as Biome formats it', () => {
    const value = {
      template: { name: 'base', hash: `sha256:${'0'.repeat(64)}` },
      migrations: ['0.2.0', '0.3.0'],
      empty: [],
      none: {},
      long: Array.from({ length: 12 }, (_, i) => `a-rather-long-item-${i}`),
      nested: [{ a: 1 }],
    };
    const text = formatJson(value);
    const biome = spawnSync(
      join(REPO_ROOT, 'node_modules/.bin/biome'),
      ['format', '--stdin-file-path=x.json'],
      {
        input: text,
        cwd: REPO_ROOT,
        encoding: 'utf8',
      },
    );
    expect(biome.status, biome.stderr).toBe(0);
    expect(biome.stdout).toBe(text);
  });

  it('quotes TypeScript strings the way Biome does', () => {
    expect(tsString('plain')).toBe("'plain'");
    expect(tsString("it's")).toBe('"it\'s"');
    expect(tsString('say "hi"')).toBe('\'say "hi"\'');
    expect(tsString('back\\slash')).toBe("'back\\\\slash'");
  });

  it('hashes trees independently of order', () => {
    const a = hashTree(
      new Map([
        ['x', '1'],
        ['y', '2'],
      ]),
    );
    const b = hashTree(
      new Map([
        ['y', '2'],
        ['x', '1'],
      ]),
    );
    expect(a).toBe(b);
    expect(hashTree(new Map([['x', '2']]))).not.toBe(hashTree(new Map([['x', '1']])));
  });
});

describe('registryUnreachable (how the e2e test tells "no registry" from a failed install)', () => {
  it('recognises npm failing to reach a registry, and nothing else', async () => {
    // A registry on a port nothing listens on: npm's real error output
    const refused = await exec(
      'npm',
      [
        'view',
        'left-pad',
        'version',
        '--registry',
        'http://127.0.0.1:9/',
        '--fetch-retries=0',
        '--prefer-online',
      ],
      REPO_ROOT,
    );
    expect(refused.code).not.toBe(0);
    expect(registryUnreachable(refused.output)).toBe('ECONNREFUSED');
    // A failure that has nothing to do with the network is not mistaken for one
    const invalid = await exec(
      'npm',
      ['view', 'NOT A VALID NAME', '--registry', 'http://127.0.0.1:9/'],
      REPO_ROOT,
    );
    expect(invalid.code).not.toBe(0);
    expect(registryUnreachable(invalid.output)).toBeUndefined();
    expect(registryUnreachable('npm error code EAI_AGAIN\nnpm error network request failed')).toBe(
      'EAI_AGAIN',
    );
  }, 30_000);
});
