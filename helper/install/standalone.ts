import { spawn } from 'node:child_process';
import { closeSync, existsSync, fstatSync, lstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { helperLogPath, type InstallLayout } from '../../common/paths';
import { writeFileAtomically } from '../fs/atomic-write';
import { readFileAt } from '../../common/fs/read-file';
import { withTrustedDirectory } from '../../common/fs/trusted-directory';
import { handOffSocket, prepareSocketPath } from '../daemon/socket-file';
import { clearStaleSocket } from '../../common/socket-probe';
import { supervisorArgs } from './supervisor';

/**
 * Standalone mode, for machines without a service manager (containers, CI,
 * minimal Linux): a small supervisor (supervisor.ts) holds the socket and
 * keeps the helper running, restarting it after a crash. Its pid, which is
 * also its process group (the helper's too), is recorded root-owned.
 * Nothing starts it at boot: `berth-helper start` does, by hand.
 */
const START_WAIT_MS = 10_000;
const STOP_WAIT_MS = 5_000;
/** What the helper prints once it serves (helper/serve.ts). */
const SERVING = /^berth-helper \S+: serving on /m;

export async function startStandalone(command: readonly string[], layout: InstallLayout): Promise<number> {
  // The directory must be root's alone; a helper that already answers is left alone (and reported).
  await prepareSocketPath(layout.socketPath);
  const logPath = helperLogPath(layout);
  const log = openSync(logPath, 'a', 0o644);
  const logStart = fstatSync(log).size;
  let child;
  try {
    child = await handOffSocket(layout.socketPath, (fd) =>
      // A clean environment: the helper is Node, and NODE_OPTIONS, OPENSSL_CONF and friends in the
      // installer's environment would run code or change TLS in a root daemon (systemd and launchd do the same).
      spawn('/bin/sh', supervisorArgs(layout.socketPath, command), {
        detached: true,
        stdio: ['ignore', log, log, fd],
        cwd: '/',
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      }),
    );
  } finally {
    closeSync(log);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start /bin/sh to supervise the helper');
  child.unref();
  withTrustedDirectory(dirname(layout.pidPath), (dir) =>
    writeFileAtomically(dir, basename(layout.pidPath), Buffer.from(`${pid}\n`), { mode: 0o644 }),
  );
  // Connecting proves nothing here (the supervisor's socket takes connections before any helper
  // serves them): the helper's own "serving on" line in its log does.
  for (const deadline = Date.now() + START_WAIT_MS; Date.now() < deadline; await sleep(50)) {
    if (SERVING.test(readFrom(logPath, logStart))) return pid;
    if (child.exitCode !== null) throw new Error(`the helper's supervisor exited at once (code ${child.exitCode}); see ${logPath}`);
  }
  throw new Error(`the helper did not start serving on ${layout.socketPath} within ${START_WAIT_MS / 1000} s; see ${logPath}`);
}

function readFrom(path: string, offset: number): string {
  const fd = openSync(path, 'r');
  try {
    const length = Math.min(Math.max(fstatSync(fd).size - offset, 0), 64 * 1024);
    const buffer = Buffer.alloc(length);
    return buffer.subarray(0, readSync(fd, buffer, 0, length, offset)).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** The pid the pid file records: the supervisor's, and the id of its process group. */
function recordedPid(layout: InstallLayout): number | undefined {
  if (!existsSync(layout.pidPath)) return undefined;
  try {
    const bytes = withTrustedDirectory(dirname(layout.pidPath), (dir) => readFileAt(dir, basename(layout.pidPath), 64));
    const pid = Number((bytes ?? Buffer.alloc(0)).toString('utf8').trim());
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** /proc/PID/stat's state and process group; undefined once the process is gone. */
function procStat(pid: number): { state: string; pgrp: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', pgrp: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

/**
 * Live processes of process group `pgid`: the supervisor, its helper, and a
 * sleep or date it runs. Zombies do not count (a reaped-late child of an
 * init that does not reap still shows in /proc).
 */
function groupMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      const stat = procStat(pid);
      return stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z';
    });
}

/** A process's argv, as the kernel keeps it; undefined once it is gone. */
function cmdline(pid: number): string[] | undefined {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.slice(0, argv.at(-1) === '' ? -1 : argv.length);
  } catch {
    return undefined;
  }
}

/**
 * Runs our helper: the supervisor's or the helper's command line names our
 * config (pids are reused, so a live pid alone proves nothing). The group
 * stays ours while either lives, even after the other was killed alone.
 */
function ours(pid: number, layout: InstallLayout): boolean {
  const argv = cmdline(pid);
  return argv !== undefined && argv.includes('serve') && argv.includes(layout.configPath);
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The whole group is gone already.
  }
}

/** The supervisor's pid when it, or a helper of its group, still runs; undefined otherwise. */
export function runningStandalone(layout: InstallLayout): number | undefined {
  const pid = recordedPid(layout);
  if (pid === undefined) return undefined;
  return groupMembers(pid).some((member) => ours(member, layout)) ? pid : undefined;
}

const sameArgv = (a: readonly string[] | undefined, b: readonly string[]): boolean =>
  a !== undefined && a.length === b.length && a.every((arg, i) => arg === b[i]);

/**
 * The pid of the standalone helper when it runs just as startStandalone would
 * start it now: its supervisor with this very script, socket and helper
 * command line, the helper itself up under it (not a supervisor waiting out
 * a back-off after failed starts), and the socket file in place. Then an
 * install that changes nothing else may leave it running. Undefined
 * otherwise: nothing runs, or what runs is not this definition.
 */
export function standaloneAsDefined(layout: InstallLayout, command: readonly string[]): number | undefined {
  const supervisor = runningStandalone(layout);
  if (supervisor === undefined) return undefined;
  if (!sameArgv(cmdline(supervisor), ['/bin/sh', ...supervisorArgs(layout.socketPath, command)])) return undefined;
  const helper = groupMembers(supervisor).find((pid) => pid !== supervisor && sameArgv(cmdline(pid), command));
  if (helper === undefined) return undefined;
  try {
    return lstatSync(layout.socketPath).isSocket() ? helper : undefined;
  } catch {
    return undefined; // removed: no client can reach the helper through it any more
  }
}

/**
 * Stops the supervisor and its helper for good: SIGTERM to the whole group
 * (the helper exits 0, so the supervisor does not restart it, and removes
 * the socket), then SIGKILL to whatever of the group will not go.
 */
export async function stopStandalone(layout: InstallLayout): Promise<number | undefined> {
  const pid = runningStandalone(layout);
  if (pid === undefined) return undefined;
  signalGroup(pid, 'SIGTERM');
  for (const deadline = Date.now() + STOP_WAIT_MS; Date.now() < deadline && groupMembers(pid).length > 0; ) await sleep(50);
  if (groupMembers(pid).length > 0) {
    signalGroup(pid, 'SIGKILL');
    for (let i = 0; i < 100 && groupMembers(pid).length > 0; i++) await sleep(20);
    // Killed, the supervisor could not remove its socket: a file nobody answers on goes now.
    await clearStaleSocket(layout.socketPath, `something still serves on ${layout.socketPath}`).catch(() => undefined);
  }
  return pid;
}
