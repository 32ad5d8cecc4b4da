import type { HelperDiagnosis } from '../../../common/helper/diagnosis';
import { spawn, type StdioOptions } from 'node:child_process';
import { closeSync } from 'node:fs';
import { constants } from 'node:os';
import { ApiError } from '../../../common/api/backend-api';
import { mappingId, type MappingKey } from '../../../common/ports/mapping';
import { formatListen } from '../../../common/ports/parse';
import { acquireListener, type HelperSource, type PortRulesInForce } from './bind';
import { explainRunHolder } from './run-holder';
import { commandName, MAX_LISTENERS, registerRun } from './run-records';

/**
 * `berth run -p 80 -- CMD`: Berth gets the listening sockets (TCP, or bound
 * UDP ones for `-p 53/udp`; directly, or from the helper) and hands them to
 * CMD as fds 3, 4, ... with the systemd
 * socket-activation variables, then gets out of the way: CMD accepts its
 * own connections, so no traffic passes through Berth.
 */

/** systemd's first passed fd (SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3;

/** More than enough for one program (defined with the run's record, which lists them). */
export { MAX_LISTENERS };

/** Signals a terminal or a supervisor sends to stop or reload: passed on to CMD. */
export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Sets LISTEN_PID to the shell's own pid, then execs CMD in place, so the
 * pid is CMD's: the systemd convention requires LISTEN_PID to name the
 * process that reads the variables, and Node cannot set it between fork and exec.
 */
const EXEC_WITH_OWN_PID = 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"';

export interface RunOptions {
  /** Where to listen, in fd order: the first is fd 3. */
  listen: readonly MappingKey[];
  /** CMD and its arguments. */
  command: readonly string[];
  helper: HelperSource;
  privilegedPortMapping: boolean;
  /** The organization's port rules, if any: `berth run` publishes ports too. */
  portRules?: PortRulesInForce | null;
  /** What is wrong with the helper, asked when it could not be used, to word the error (AcquireOptions.diagnose). */
  diagnose?: () => Promise<HelperDiagnosis>;
  /** CMD's environment before the LISTEN_* variables are set (default: ours). */
  env?: NodeJS.ProcessEnv;
  /** CMD's stdin, stdout, stderr (default: ours). */
  stdio?: readonly ['inherit' | 'ignore' | 'pipe', 'inherit' | 'ignore' | 'pipe', 'inherit' | 'ignore' | 'pipe'];
  /** Called once CMD runs (its pid). */
  onStart?: (pid: number) => void;
  /**
   * The user's records of running berth runs (UserPaths.runsDir): this run's
   * is kept there while CMD runs, and a port in use by another run is said
   * to be (run-holder.ts). Undefined: neither.
   */
  runsDir?: string;
}

/**
 * One LISTEN_FDNAMES entry per socket. systemd's names may not contain ':'
 * (it separates them), so `127.0.0.1:80` becomes `127.0.0.1_80` and
 * `[::1]:80` becomes `[__1]_80`; a UDP socket keeps its suffix,
 * `127.0.0.1_53/udp`, so CMD can tell it from a TCP one on the same port.
 */
export function listenFdName(key: MappingKey): string {
  return formatListen(key).replace(/:/g, '_');
}

/** What the shell reports as a process's status: its exit code, or 128 + the signal that killed it. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const number = signal !== null ? constants.signals[signal] : undefined;
  return 128 + (number ?? 0);
}

function closeAll(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      // Already closed.
    }
  }
}

/** Every socket, or none: a failure closes the ones already bound. */
async function acquireAll(options: RunOptions): Promise<number[]> {
  const fds: number[] = [];
  for (const key of options.listen) {
    try {
      fds.push(
        (
          await acquireListener(key, {
            helper: options.helper,
            privilegedPortMapping: options.privilegedPortMapping,
            portRules: options.portRules ?? null,
            ...(options.diagnose !== undefined ? { diagnose: options.diagnose } : {}),
          })
        ).fd,
      );
    } catch (error) {
      closeAll(fds);
      throw error instanceof ApiError ? explainRunHolder(error, key, options.runsDir) : error;
    }
  }
  return fds;
}

/**
 * Binds every address, runs CMD with the sockets as fds 3.., forwards
 * SIGINT/SIGTERM/SIGHUP to it, and resolves with its exit status (128 +
 * signal when it was killed). Bind failures reject with an ApiError before
 * CMD starts.
 */
export async function runWithListeners(options: RunOptions): Promise<number> {
  if (options.command.length === 0 || options.command[0] === '') throw new ApiError('INVALID', 'no command to run');
  if (options.listen.length === 0) throw new ApiError('INVALID', 'give at least one address to listen on');
  if (options.listen.length > MAX_LISTENERS) throw new ApiError('INVALID', `at most ${MAX_LISTENERS} listen addresses`);
  const seen = new Set<string>();
  for (const key of options.listen) {
    const id = mappingId(key);
    if (seen.has(id)) throw new ApiError('INVALID', `${formatListen(key)} is given twice`);
    seen.add(id);
  }

  const fds = await acquireAll(options);
  const env: NodeJS.ProcessEnv = { ...(options.env ?? process.env) };
  // Whatever a parent passed us is not for CMD: these describe our sockets only.
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  env.LISTEN_FDS = String(fds.length);
  env.LISTEN_FDNAMES = options.listen.map(listenFdName).join(':');

  const [cmd, ...args] = options.command;
  const stdio: StdioOptions = [...(options.stdio ?? ['inherit', 'inherit', 'inherit']), ...fds];
  let child;
  try {
    child = spawn('/bin/sh', ['-c', EXEC_WITH_OWN_PID, cmd!, ...args], { stdio, env });
  } finally {
    // CMD has its copies (dup2'd without close-on-exec); ours would only keep the ports open after it exits.
    closeAll(fds);
  }

  const forward = new Map<NodeJS.Signals, () => void>();
  for (const signal of FORWARDED_SIGNALS) {
    const handler = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    forward.set(signal, handler);
    process.on(signal, handler);
  }
  let unregister = (): void => undefined;
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', (error) => reject(new ApiError('FAILED', `cannot start ${cmd} (${(error as NodeJS.ErrnoException).code ?? error.message})`)));
      child.once('spawn', () => {
        // CMD holds the ports from now on: say so for another "port in use" (run-holder.ts).
        if (options.runsDir !== undefined) unregister = registerRun(options.runsDir, { pid: child.pid!, command: commandName(cmd!), listen: [...options.listen] });
        options.onStart?.(child.pid!);
      });
      child.once('exit', (code, signal) => resolve(exitStatus(code, signal)));
    });
  } finally {
    unregister();
    for (const [signal, handler] of forward) process.off(signal, handler);
  }
}
