import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fileLimit, raiseFileLimit } from './index';
import { builtAddonPath } from './test-helpers';

/** The soft and hard "Max open files" of a process, as the kernel reports them. */
function limitsOf(pid: number | 'self'): { soft: number; hard: number } {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [soft, hard] = (line ?? '').split(/\s{2,}/).slice(1, 3).map(Number);
  return { soft: soft!, hard: hard! };
}

describe('fileLimit and raiseFileLimit', () => {
  it('reads the limits the kernel reports for this process; raising them where they are equal changes nothing', () => {
    expect(fileLimit()).toEqual(limitsOf('self'));
    expect(raiseFileLimit()).toEqual(limitsOf('self'));
  });

  it('raises a lowered soft limit to the hard one; a second call changes nothing', async () => {
    // Node raises the soft limit to the hard one at its own start, so the
    // limit is lowered from outside (prlimit --pid) once the child runs.
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const m = { exports: {} }; process.dlopen(m, ${JSON.stringify(builtAddonPath())});
         process.stdout.write('ready\\n');
         process.stdin.once('data', () => {
           const before = m.exports.fileLimit();
           const after = m.exports.raiseFileLimit();
           const again = m.exports.raiseFileLimit();
           process.stdout.write(JSON.stringify({ before, after, again }) + '\\n');
           process.exit(0);
         });`,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    while (!out.includes('ready\n')) await once(child.stdout, 'data');
    execFileSync('prlimit', ['--pid', String(child.pid), '--nofile=64:512']);
    expect(limitsOf(child.pid!)).toEqual({ soft: 64, hard: 512 });
    child.stdin.end('go\n');
    await once(child, 'exit');
    const report = JSON.parse(out.split('\n')[1]!) as Record<'before' | 'after' | 'again', { soft: number; hard: number }>;
    expect(report.before).toEqual({ soft: 64, hard: 512 });
    expect(report.after).toEqual({ soft: 512, hard: 512 });
    expect(report.again).toEqual({ soft: 512, hard: 512 });
  });
});
