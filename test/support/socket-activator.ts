/**
 * A stand-in for systemd's socket activation, for tests and benchmarks (not
 * shipped; no vitest import, so bench/ uses it too). Like a .socket unit it
 * holds the listening socket for as long as it runs, starts the helper when
 * a connection waits and nothing serves it, hands the socket over as fd 3
 * with LISTEN_FDS/LISTEN_PID, and takes it back when the helper exits.
 * (Debian's systemd-socket-activate serves one helper life only: it execs
 * the helper, so the socket closes with it and a loop of it binds a new one
 * each time, which is not what systemd does between helper lives.)
 *
 * Two halves: startActivator (in the test, as root) makes the socket as the
 * installer does and spawns the activator process holding it; runActivator
 * is that process's main. It prints one JSON line per helper start and exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { handOffSocket, prepareSocketPath } from '../../helper/daemon/socket-file';
import { POLL_READABLE, pollStart, pollStop } from '../../native';

const LISTEN_FD = 3;

export interface ActivatorEvent {
  event: 'start' | 'exit';
  /** Helper lives started so far. */
  starts: number;
  pid?: number;
  code?: number | null;
  signal?: string | null;
}

/** The activator process: waits for a connection on fd 3, runs `command` with it, again after each exit. */
export function runActivator(command: readonly string[]): void {
  const print = (event: ActivatorEvent): void => void process.stdout.write(`${JSON.stringify(event)}\n`);
  let starts = 0;
  const watch = (): void => {
    const handle = pollStart(LISTEN_FD, POLL_READABLE, (error) => {
      pollStop(handle);
      if (error !== null) throw error;
      starts++;
      // LISTEN_PID names the helper itself: sh learns its own pid, then execs the helper in place.
      const child = spawn('/bin/sh', ['-c', 'export LISTEN_PID=$$; exec "$@"', 'activated', ...command], {
        stdio: ['ignore', 'ignore', 'inherit', LISTEN_FD],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LISTEN_FDS: '1' },
      });
      print({ event: 'start', starts, pid: child.pid });
      child.once('exit', (code, signal) => {
        print({ event: 'exit', starts, code, signal });
        watch();
      });
    });
  };
  watch();
}

/**
 * Makes the socket at `socketPath` (root's, 0666, as the installer does) and starts `activator` (argv of a process that calls
 * runActivator with its remaining arguments) holding it, in a process group
 * of its own: kill -PID ends it and any helper it runs.
 */
export async function startActivator(socketPath: string, activator: readonly string[], helperCommand: readonly string[]): Promise<ChildProcess> {
  await prepareSocketPath(socketPath);
  return handOffSocket(socketPath, (fd) =>
    spawn(activator[0]!, [...activator.slice(1), ...helperCommand], { stdio: ['ignore', 'pipe', 'pipe', fd], detached: true }),
  );
}
