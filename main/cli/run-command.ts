import { probeInstalledHelper } from '../core/installed-helper';
import { helperBuilds } from '../install/helper-build';
import { isAbsolute } from 'node:path';
import { ApiError } from '../../common/api/backend-api';
import { systemPaths } from '../../common/paths';
import { userPaths } from '../../common/user-paths';
import type { MappingKey } from '../../common/ports/mapping';
import { looksLikeMapping, parseListen } from '../../common/ports/parse';
import { helperAt } from '../core/ports/bind';
import { MAX_LISTENERS, runWithListeners } from '../core/ports/run';
import type { PortRulesInForce } from '../core/ports/bind';
import { EXIT } from './exit-codes';
import { UsageError, type CliIO } from './io';

export const RUN_USAGE = `Usage: berth run -p [ADDR:]PORT[/udp] [-p [ADDR:]PORT[/udp] ...] [--helper-socket PATH] [--] CMD [ARGS...]

Run CMD with listening sockets already bound for it, as systemd's socket
activation does: the sockets are fds 3, 4, ... in the order given, with
LISTEN_FDS (how many), LISTEN_PID (CMD's pid) and LISTEN_FDNAMES (e.g.
127.0.0.1_80) set. Berth binds each port itself when the system allows it
and asks the privileged helper otherwise (ports below 1024), then gets out of
the way: connections go straight to CMD, never through Berth.

  -p, --publish [ADDR:]PORT  where to listen; ADDR is a literal IP address (default 127.0.0.1),
                             IPv6 in brackets: -p 80, -p 0.0.0.0:443, -p [::1]:8080
                             /udp for a bound UDP socket instead: -p 53/udp (its
                             LISTEN_FDNAMES entry ends in /udp: 127.0.0.1_53/udp);
                             UDP below 1024 on loopback only, unless your
                             organization's policy allows more
                             (no target: Docker's -p 8080:80 forwards, and berth run
                             does not; for that use "berth ports add 8080:80")
  --helper-socket PATH       the helper's socket (default ${systemPaths().socketPath})
  -h, --help                 show this help

CMD gets SIGINT, SIGTERM and SIGHUP sent to berth, and berth exits with CMD's
status (128 + the signal number if it was killed).

Exit codes before CMD starts: 64 bad usage, 3 the port needs the helper and it
is not installed, not running or not allowed (or privileged port mapping is off), 1 any other failure
(port in use, address not on this machine). The message says which.

CMD must be able to use an inherited socket (sd_listen_fds, or listen on fd 3):
most servers that support systemd socket activation can.

Examples:
  berth run -p 80 -- ./my-server
  berth run -p 127.0.0.1:80 -p 127.0.0.1:443 -- ./my-server --systemd-sockets
  berth run -p 53/udp -p 53 -- ./my-dns-server
`;

export interface RunCommandDeps {
  /**
   * The user's "privileged port mapping" setting (may the helper be asked?).
   * The backend's settings store supplies it; without one, it is on (the default setting).
   */
  privilegedPortMapping?: () => boolean | Promise<boolean>;
  /** The organization's port rules in force (none without a policy). */
  portRules?: () => PortRulesInForce | null;
  /** The user's records of running berth runs (default: UserPaths.runsDir). */
  runsDir?: string;
}

interface RunArgs {
  help: boolean;
  publish: string[];
  helperSocket: string | undefined;
  command: string[];
}

/** Berth's own options come before CMD; the first word that is not one of them (or `--`) starts CMD. */
function parseRunArgs(argv: readonly string[]): RunArgs {
  const result: RunArgs = { help: false, publish: [], helperSocket: undefined, command: [] };
  const value = (i: number, flag: string): string => {
    const next = argv[i];
    if (next === undefined) throw new UsageError(`${flag} needs a value`);
    return next;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      result.command = argv.slice(i + 1);
      break;
    }
    if (arg === '-h' || arg === '--help') result.help = true;
    else if (arg === '-p' || arg === '--publish') result.publish.push(value(++i, arg));
    else if (arg.startsWith('--publish=')) result.publish.push(arg.slice('--publish='.length));
    else if (arg.startsWith('-p') && !arg.startsWith('--')) result.publish.push(arg.slice(2));
    else if (arg === '--helper-socket') result.helperSocket = value(++i, arg);
    else if (arg.startsWith('--helper-socket=')) result.helperSocket = arg.slice('--helper-socket='.length);
    else if (arg.startsWith('-')) throw new UsageError(`unknown option "${arg.slice(0, 40)}" (put CMD after --)`);
    else {
      result.command = argv.slice(i);
      break;
    }
  }
  return result;
}

function listenKeys(specs: readonly string[]): MappingKey[] {
  if (specs.length === 0) throw new UsageError('give at least one -p [ADDR:]PORT to listen on');
  if (specs.length > MAX_LISTENERS) throw new UsageError(`at most ${MAX_LISTENERS} -p options`);
  return specs.map((spec) => {
    if (looksLikeMapping(spec)) {
      // Docker's -p HOST:TARGET forwards; berth run forwards nothing (CMD gets the socket), so there is no target to honour.
      throw new UsageError(
        `-p ${spec.slice(0, 80)}: berth run forwards nothing, so it takes no target port: CMD gets the listening socket itself; give only where to listen (e.g. -p 8080), or forward with "berth ports add ${spec.slice(0, 80)}"`,
      );
    }
    try {
      return parseListen(spec);
    } catch (error) {
      if (error instanceof ApiError) throw new UsageError(`-p ${spec.slice(0, 80)}: ${error.message}`);
      throw error;
    }
  });
}

function exitFor(error: ApiError): number {
  switch (error.code) {
    case 'HELPER_NEEDED':
    case 'HELPER_UNAVAILABLE':
      return EXIT.helperUnavailable;
    case 'INVALID':
      return EXIT.usage;
    default:
      return EXIT.error;
  }
}

/**
 * `berth run`: resolves with CMD's exit status, or with Berth's own exit
 * code (64 usage, 3 helper, 1 other) when CMD could not be started.
 */
export async function runCommand(argv: string[], io: CliIO, deps: RunCommandDeps = {}): Promise<number> {
  let args: RunArgs;
  let listen: MappingKey[];
  try {
    args = parseRunArgs(argv);
    if (args.help) {
      io.out(RUN_USAGE);
      return EXIT.ok;
    }
    listen = listenKeys(args.publish);
    if (args.helperSocket !== undefined && !isAbsolute(args.helperSocket)) {
      throw new UsageError(`--helper-socket must be an absolute path (got "${args.helperSocket.slice(0, 80)}")`);
    }
    if (args.command.length === 0 || args.command[0] === '') throw new UsageError('give the command to run after --, e.g. berth run -p 80 -- ./server');
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`berth run: ${error.message}\nRun "berth run --help" for usage.\n`);
      return EXIT.usage;
    }
    throw error;
  }
  const socketPath = args.helperSocket ?? systemPaths().socketPath;
  try {
    return await runWithListeners({
      listen,
      command: args.command,
      helper: helperAt(socketPath, 'berth-run'),
      // Asked only when the helper could not be used: the same words as `berth helper status`.
      diagnose: async () => (await probeInstalledHelper({ socketPath, builds: helperBuilds() })).diagnosis,
      privilegedPortMapping: (await deps.privilegedPortMapping?.()) ?? true,
      portRules: deps.portRules?.() ?? null,
      // Where this run says what it holds, and where another run's port in use is looked up.
      runsDir: deps.runsDir ?? userPaths().runsDir,
    });
  } catch (error) {
    if (error instanceof ApiError) {
      io.err(`berth run: ${error.message}\n`);
      return exitFor(error);
    }
    throw error;
  }
}
