import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Demo, REPO_ROOT, walkthrough } from '../src/index.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
// The repository's README walks through the default demo (with the console) only
const ROOT_README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

function fakeDemo(withConsole: boolean): Demo {
  const service = (name: string) => ({ name, url: `http://127.0.0.1:1`, pid: 1, readyMs: 1 }) as never;
  const home = join(REPO_ROOT, '.dev', 'demo');
  return {
    services: {
      ...(withConsole ? { console: service('console') } : {}),
      alf: service('alf'),
      'log-generator': service('log-generator'),
      'index-provisioner': service('index-provisioner'),
      'plugin-runner': service('plugin-runner'),
    },
    home,
    splunkDir: join(home, 'splunk'),
    pluginInstance: 'demo-feed',
  } as unknown as Demo;
}

describe('README walkthrough', () => {
  for (const withConsole of [true, false])
    it(`lists every command the launcher prints (${withConsole ? 'with' : 'without'} the console)`, () => {
      const commands = walkthrough(fakeDemo(withConsole), REPO_ROOT).filter(
        (l) => l !== '' && !l.startsWith('#'),
      );
      expect(commands.length).toBeGreaterThan(8);
      for (const command of commands) expect(README, command).toContain(command);
      if (withConsole)
        for (const command of commands) expect(ROOT_README, `root README: ${command}`).toContain(command);
    });
});
