// The machine's own files Berth's helper would change outside a test's
// private copies. The suite runs as root in a private mount namespace, but
// these paths are the machine's: a test that reaches them (a helper started
// without scratch paths, a backend carrying out its settings through it)
// changes the developer's machine, and the systemd suite, whose overlay sits
// on this machine's /, then sees the wrong baseline. scripts/test.sh takes
// this picture before the tests and compares it after each suite.
//
//   node scripts/machine-guard.mjs picture FILE   write the picture to FILE
//   node scripts/machine-guard.mjs check FILE     exit 1 naming what changed since
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, writeFileSync } from 'node:fs';

export const WATCHED = ['/etc/hosts', '/etc/hosts.berth-backup', '/var/lib/berth', '/etc/berth', '/usr/local/bin/berth', '/usr/local/bin/berth-helper'];

function describe(path) {
  const stat = lstatSync(path, { throwIfNoEntry: false });
  if (stat === undefined) return 'absent';
  if (!stat.isFile()) return stat.isDirectory() ? 'a directory' : 'present';
  return `sha256 ${createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16)}`;
}

export function pictureMachine() {
  return Object.fromEntries(WATCHED.map((path) => [path, describe(path)]));
}

/** What differs from `before`, one line a path; empty when the machine is as it was. */
export function machineChanges(before, after = pictureMachine()) {
  return WATCHED.filter((path) => before[path] !== after[path]).map((path) => `${path}: ${before[path]} -> ${after[path]}`);
}

const [command, file] = process.argv.slice(2);
if (command === 'picture' && file) {
  writeFileSync(file, JSON.stringify(pictureMachine()));
} else if (command === 'check' && file) {
  const changed = machineChanges(JSON.parse(readFileSync(file, 'utf8')));
  if (changed.length > 0) {
    console.error(`machine-guard: the tests changed this machine's own files (a test reached them outside its private copies):\n  ${changed.join('\n  ')}`);
    process.exit(1);
  }
} else if (command !== undefined) {
  console.error('usage: node scripts/machine-guard.mjs picture|check FILE');
  process.exit(2);
}
