import { helperBuilds } from '../install/helper-build';
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { cliAppPath } from '../install/app-location';
import { describeOutcome } from '../install/elevate';
import { installHelperElevated, uninstallHelperElevated } from '../install/helper-install';
import type { HelperStatus } from '../core/helper-status';
import type { HelperDiagnosis } from '../../common/helper/diagnosis';
import { probeInstalledHelper } from '../core/installed-helper';
import { systemPaths } from '../../common/paths';
import { EXIT } from './exit-codes';
import { UsageError, type CliIO } from './io';

export const HELPER_USAGE = `Usage: berth helper status [--socket PATH] [--json]
       berth helper install [--app PATH] [--user NAME] [--allow-unsafe-location]
       berth helper uninstall [--allow-unsafe-location]

  status     Say whether the privileged helper is installed and running, and its version.
             --socket PATH  talk to a helper on another socket (default ${systemPaths().socketPath})
             --json         print the report as JSON
  install    Install (or update) the helper for you, through the system's password prompt.
             Where it is installed already for other accounts, this enrols yours
             (an administrator's password).
             --app PATH     where Berth is installed (default: the app this CLI belongs to)
             --user NAME    as root (sudo, an admin's script): the user to install it for;
                            root itself needs no helper and no password prompt
             --allow-unsafe-location
                            ask for the password even though someone other than root can
                            change the helper (your own development copy); without it,
                            such an install is refused before any prompt
  uninstall  Remove the helper and everything it set up, through the same prompt. While
             other accounts on this computer use it, only your enrolment goes (and the
             links and hosts entries no one else uses); the helper stays for them.

Exit codes: 0 running (or user mode: set up by an admin, no helper needed), 3 not installed /
not running / not allowed / not set up for your account, 4 needs update, 5 the password prompt was cancelled or refused, 1 error
(also: not asked, because someone other than root can change the helper).
`;

/**
 * The helper's diagnosis as the first rows of a status table: what is true
 * now, and the one fix (common/helper/diagnosis.ts). `berth status` shows
 * the same two rows; the condition's code stays in --json.
 */
export function diagnosisRows(diagnosis: HelperDiagnosis): Array<[string, string]> {
  return [['Helper', diagnosis.sentence], ...(diagnosis.fix !== null ? ([['Fix', diagnosis.fix]] as Array<[string, string]>) : [])];
}

/** The exit code for a helper state; `berth status` uses the same codes. */
export function exitFor(status: Pick<HelperStatus, 'state'>): number {
  switch (status.state) {
    case 'running':
    case 'user-mode':
      return EXIT.ok;
    case 'needs-update':
      return EXIT.helperNeedsUpdate;
    case 'error':
      return EXIT.error;
    default:
      return EXIT.helperUnavailable;
  }
}

export async function helperCommand(argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    io.out(HELPER_USAGE);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  if (sub === 'install' || sub === 'uninstall') return elevatedCommand(sub, rest, io);
  if (sub !== 'status') throw new UsageError(`unknown helper command "${sub}"`);
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: { socket: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    io.out(HELPER_USAGE);
    return EXIT.ok;
  }
  const status = await probeInstalledHelper({ socketPath: values.socket ?? systemPaths().socketPath, builds: helperBuilds() });
  if (values.json) {
    io.out(JSON.stringify(status, null, 2) + '\n');
  } else {
    const rows: Array<[string, string]> = [
      ...diagnosisRows(status.diagnosis),
      ['Helper version', status.helper?.helperVersion ?? '-'],
      ['Bundled version', status.bundledBuild === undefined ? status.bundledVersion : `${status.bundledVersion} (build ${status.bundledBuild})`],
      ['Protocol', status.helper ? String(status.helper.protocol) : '-'],
      ['Capabilities', status.helper?.capabilities.join(', ') || '-'],
      // Only the socket asked about by hand; the installed helper's path is in --json.
      ...(values.socket !== undefined ? ([['Socket', status.socketPath]] as Array<[string, string]>) : []),
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    io.out(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n');
  }
  return exitFor(status);
}

/**
 * Whom the helper is installed for: the user running the CLI, or, when that
 * is root (who binds any port itself and needs no helper), the user named
 * with --user. Root runs the installer directly: no prompt.
 */
function installUid(forUser: string | undefined): number {
  const self = process.getuid?.() ?? -1;
  if (forUser === undefined) {
    if (self === 0) {
      throw new UsageError('you are root, and root needs no helper (it binds any port itself); to install it for a user, run: berth helper install --user NAME');
    }
    return self;
  }
  if (self !== 0) throw new UsageError('--user installs the helper for another user, which only root may do; without it, it is installed for you');
  // A name as useradd makes them: nothing that could be read as an option or a path.
  if (!/^[a-z_][a-z0-9_.-]{0,31}\$?$/i.test(forUser)) throw new UsageError(`--user ${JSON.stringify(forUser.slice(0, 40))} is not a user name`);
  const looked = spawnSync('id', ['-u', '--', forUser], { encoding: 'utf8' });
  const uid = Number(looked.stdout.trim());
  if (looked.status !== 0 || !Number.isInteger(uid)) throw new UsageError(`there is no user named ${forUser} on this machine`);
  if (uid === 0) throw new UsageError('root needs no helper; name the user who will run Berth');
  return uid;
}

/** install/uninstall through the OS prompt; every outcome is one clear sentence and its own exit code. */
async function elevatedCommand(sub: 'install' | 'uninstall', argv: string[], io: CliIO): Promise<number> {
  const common = { 'allow-unsafe-location': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;
  const { values } =
    sub === 'install'
      ? parseArgs({ args: argv, strict: true, options: { ...common, app: { type: 'string' }, user: { type: 'string' } } })
      : parseArgs({ args: argv, strict: true, options: common });
  if (values.help) {
    io.out(HELPER_USAGE);
    return EXIT.ok;
  }
  const app = 'app' in values && typeof values.app === 'string' ? values.app : cliAppPath();
  if (sub === 'install' && !app.startsWith('/')) throw new UsageError('--app needs an absolute path');
  const elevated = { allowUnsafeLocation: values['allow-unsafe-location'] === true };
  const forUser = 'user' in values && typeof values.user === 'string' ? values.user : undefined;
  const uid = sub === 'install' ? installUid(forUser) : undefined;
  const outcome = sub === 'install' ? await installHelperElevated(app, uid, elevated) : await uninstallHelperElevated(undefined, elevated);
  if (outcome.kind === 'approved') {
    io.out(outcome.stdout);
    return EXIT.ok;
  }
  io.err(`berth: ${describeOutcome(outcome)}\n`);
  if (outcome.kind === 'unsafe-location') {
    io.err(`berth: to ask for the password anyway, run it again with --allow-unsafe-location.\n`);
    return EXIT.error;
  }
  if (outcome.kind === 'failed') io.err(outcome.stdout + outcome.stderr);
  return outcome.kind === 'failed' || outcome.kind === 'unavailable' || outcome.kind === 'untrusted-helper' ? EXIT.error : EXIT.promptRefused;
}


