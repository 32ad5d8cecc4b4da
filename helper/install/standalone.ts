import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { helperLogPath, type InstallLayout } from '../../common/paths';
import { somethingAnswers } from '../../common/socket-probe';
import { writeFileAtomically } from '../fs/atomic-write';
import { readFileAt } from '../../common/fs/read-file';
import { withTrustedDirectory } from '../../common/fs/trusted-directory';

/**
 * Standalone mode, for machines without a service manager (containers, CI,
 * minimal Linux): the helper runs detached, its pid recorded root-owned.
 */
const START_WAIT_MS = 10_000;

export async function startStandalone(command: readonly string[], layout: InstallLayout): Promise<number> {
  const log = openSync(helperLogPath(layout), 'a', 0o644);
  // A clean environment: the helper is Node, and NODE_OPTIONS, OPENSSL_CONF and friends in the
  // installer's environment would run code or change TLS in a root daemon (systemd and launchd do the same).
  const child = spawn(command[0]!, command.slice(1), {
    detached: true,
    stdio: ['ignore', log, log],
    cwd: '/',
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${command[0]}`);
  child.unref();
  withTrustedDirectory(dirname(layout.pidPath), (dir) =>
    writeFileAtomically(dir, basename(layout.pidPath), Buffer.from(`${pid}\n`), { mode: 0o644 }),
  );
  for (const deadline = Date.now() + START_WAIT_MS; Date.now() < deadline; await sleep(50)) {
    if (child.exitCode !== null) throw new Error(`the helper exited at once (code ${child.exitCode}); see ${helperLogPath(layout)}`);
    if (await somethingAnswers(layout.socketPath)) return pid;
  }
  throw new Error(`the helper did not start listening on ${layout.socketPath}; see ${helperLogPath(layout)}`);
}

/** The pid in the pid file, if it still names our helper (pids are reused: check its command line). */
export function runningStandalone(layout: InstallLayout): number | undefined {
  if (!existsSync(layout.pidPath)) return undefined;
  let pid: number;
  try {
    const bytes = withTrustedDirectory(dirname(layout.pidPath), (dir) => readFileAt(dir, basename(layout.pidPath), 64));
    pid = Number((bytes ?? Buffer.alloc(0)).toString('utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.includes('serve') && argv.includes(layout.configPath) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie (a reaped-late child of an init that does not reap still shows in /proc). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** SIGTERM (the helper removes its socket), then SIGKILL if it will not go. */
export async function stopStandalone(layout: InstallLayout): Promise<number | undefined> {
  const pid = runningStandalone(layout);
  if (pid === undefined) return undefined;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  return pid;
}
