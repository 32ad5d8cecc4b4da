import { inject } from 'vitest';
import type { TestUser } from './constants';
import { finished, type Finished } from './processes';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** Runs the bundled `berth` CLI as an unprivileged user, as a person would. */
export function runCliAs(user: TestUser, args: string[]): Promise<Finished> {
  const child = spawn(
    'setpriv',
    [
      `--reuid=${user.uid}`,
      `--regid=${user.gid}`,
      '--clear-groups',
      '--inh-caps=-all',
      '--',
      process.execPath,
      join(inject('fixturesDir'), 'cli', 'berth.js'),
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' },
  );
  return finished(child);
}
