import { parseArgs } from 'node:util';
import { installLayout } from '../../common/paths';
import { ProtocolError } from '../../common/protocol/errors';
import { readConfigFile } from '../../common/helper-config/read';
import { enrolledUid, policyUrlProblem, policyUrlSchema } from '../../common/helper-config/schema';
import { readKeyFile } from '../daemon/org-key';
import { currentProgram, installHelper } from './install';
import { uninstallHelper } from './uninstall';
import { installUserMode } from './user-mode';
import { NothingToStart, startInstalled } from './start';

export const START_USAGE = `  berth-helper start
      Start the installed helper if it is not running, without installing
      again. Where no service manager runs (standalone mode) nothing starts the
      helper at boot: run this after each restart of the machine. Under systemd
      or launchd it starts the helper's socket if someone stopped it. Run as root.
      Exit codes: 0 started or already running, 1 nothing to start (not
      installed, user mode) or it failed, 77 not root, 78 the config is bad.`;

export const INSTALL_USAGE = `  berth-helper install --app PATH --uid UID [--org-key FILE] [--policy-url URL]
      Install (or upgrade) the helper and enrol user UID: root-only directories,
      the program, its config, an install record, and the service (standalone
      where no service manager runs). Where the helper is installed already,
      UID is enrolled beside the accounts it serves. Run as root, normally
      through Berth's prompt (each user enrols with an administrator's password).
        --org-key FILE    the organization's Ed25519 public key; policies must be signed by it
        --policy-url URL  where Berth fetches the signed policy (https, or http to
                          localhost only; no credentials); needs an org key. On an
                          upgrade it replaces the URL in the kept config.
  berth-helper install --user NAME --app PATH
      User mode, for managed machines (an admin or MDM runs it once): removes any
      earlier helper, links the CLI tools and adds the hosts entries for that one
      account, and starts no helper. Limits: only that account; ports below 1024
      only where the OS allows a direct bind; no privileged diagnostics trace.
${START_USAGE}
  berth-helper uninstall [--uid UID]
      Stop the helper and remove everything the install created, Berth's CLI
      links and its hosts block. Safe to run twice, and on a half install.
      With --uid (what Berth's own Uninstall runs): while other accounts stay
      enrolled, unenrol only UID, remove what it alone wanted, and leave the
      helper running for the others; UID being the last, remove everything.`;

/** Exit codes of install/uninstall, documented in docs/INSTALL.md. */
export const INSTALL_EXIT = { ok: 0, failed: 1, usage: 64, notRoot: 77, unsafePath: 73, badConfig: 78 } as const;

function fail(message: string, code: number): number {
  console.error(`berth-helper: ${message}`);
  return code;
}

export async function installCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        app: { type: 'string' },
        uid: { type: 'string' },
        user: { type: 'string' },
        'org-key': { type: 'string' },
        'policy-url': { type: 'string' },
      },
    }));
  } catch (error) {
    return fail(`${(error as Error).message}\nRun "berth-helper --help" for usage.`, INSTALL_EXIT.usage);
  }
  if (values.app === undefined || !values.app.startsWith('/')) return fail('install needs --app with an absolute path', INSTALL_EXIT.usage);
  if (values.user !== undefined) {
    if (values.uid !== undefined || values['org-key'] !== undefined || values['policy-url'] !== undefined) {
      return fail('--user installs no helper: it takes only --app', INSTALL_EXIT.usage);
    }
    if (process.getuid?.() !== 0) return fail('install --user must run as root (an admin or MDM runs it)', INSTALL_EXIT.notRoot);
    try {
      await installUserMode(values.user, values.app, installLayout(), (line) => console.log(line));
      console.log(`installed: user mode for ${values.user}`);
      return INSTALL_EXIT.ok;
    } catch (error) {
      return installFailure(error);
    }
  }
  if (uidArgument(values.uid) === undefined) {
    return fail('install needs --uid with the numeric uid of the user to serve (not 0, not 65535)', INSTALL_EXIT.usage);
  }
  if (process.getuid?.() !== 0) return fail('install must run as root (Berth asks for your password to run it)', INSTALL_EXIT.notRoot);
  let orgPublicKey: string | undefined;
  if (values['org-key'] !== undefined) {
    try {
      orgPublicKey = readKeyFile(values['org-key']);
    } catch (error) {
      return fail((error as Error).message, INSTALL_EXIT.usage);
    }
  }
  let policyUrl: string | undefined;
  if (values['policy-url'] !== undefined) {
    const problem = policyUrlProblem(values['policy-url']);
    if (problem !== undefined) return fail(`--policy-url ${problem}`, INSTALL_EXIT.usage);
    policyUrl = policyUrlSchema.parse(values['policy-url']);
    // Without an org key every fetched policy would be refused (NOT_CONFIGURED): say so now, not on every fetch.
    if (orgPublicKey === undefined && !keptConfigHasOrgKey()) {
      return fail('--policy-url needs --org-key FILE: without the organization key no fetched policy can be accepted', INSTALL_EXIT.usage);
    }
  }
  try {
    await installHelper(
      {
        appPath: values.app,
        uid: Number(values.uid),
        ...(orgPublicKey !== undefined ? { orgPublicKey } : {}),
        ...(policyUrl !== undefined ? { policyUrl } : {}),
      },
      installLayout(),
      currentProgram(),
      (line) => console.log(line),
    );
    console.log('installed: the helper is running');
    return INSTALL_EXIT.ok;
  } catch (error) {
    return installFailure(error);
  }
}

/** An upgrade keeps the existing config: its org key then counts for --policy-url. */
function keptConfigHasOrgKey(): boolean {
  try {
    return readConfigFile(installLayout().configPath).orgPublicKey !== undefined;
  } catch {
    // Absent or unusable: install itself reports an unusable config; here it simply has no key.
    return false;
  }
}

function installFailure(error: unknown): number {
  if (error instanceof ProtocolError && error.code === 'UNSAFE_PATH') {
    return fail(`${error.message}\nFix the ownership or permissions above (root, not group/world-writable, no symlinks) and run install again.`, INSTALL_EXIT.unsafePath);
  }
  return fail(`install failed: ${(error as Error).message}\nRun install again, or "berth-helper uninstall" to clean up.`, INSTALL_EXIT.failed);
}

/** A uid to serve or unenrol: a whole number, not root (root is always served), as the config's schema has it. */
function uidArgument(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^\d{1,10}$/.test(raw)) return undefined;
  return enrolledUid.safeParse(Number(raw)).success ? Number(raw) : undefined;
}

export async function uninstallCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, options: { uid: { type: 'string' } } }));
  } catch (error) {
    return fail(`${(error as Error).message}\nRun "berth-helper --help" for usage.`, INSTALL_EXIT.usage);
  }
  const uid = uidArgument(values.uid);
  if (values.uid !== undefined && uid === undefined) {
    return fail('uninstall --uid needs the numeric uid of an enrolled user (not 0)', INSTALL_EXIT.usage);
  }
  if (process.getuid?.() !== 0) return fail('uninstall must run as root', INSTALL_EXIT.notRoot);
  try {
    const outcome = await uninstallHelper(installLayout(), (line) => console.log(line), uid === undefined ? {} : { forUid: uid });
    console.log(outcome.summary);
    return INSTALL_EXIT.ok;
  } catch (error) {
    return fail(`uninstall failed: ${(error as Error).message}`, INSTALL_EXIT.failed);
  }
}

export async function startCommand(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h')) {
    process.stdout.write(`Usage:\n${START_USAGE}\n`);
    return INSTALL_EXIT.ok;
  }
  if (argv.length > 0) return fail(`start takes no arguments (got ${argv.join(' ')})`, INSTALL_EXIT.usage);
  if (process.getuid?.() !== 0) return fail('start must run as root (try: sudo berth-helper start)', INSTALL_EXIT.notRoot);
  const layout = installLayout();
  try {
    const outcome = await startInstalled(layout, currentProgram(), (line) => console.log(line));
    console.log(outcome === 'running' ? 'the helper was already running' : 'started: the helper is running');
    return INSTALL_EXIT.ok;
  } catch (error) {
    if (error instanceof NothingToStart) return fail(error.message, error.badConfig ? INSTALL_EXIT.badConfig : INSTALL_EXIT.failed);
    return fail(`start failed: ${(error as Error).message}\nInstall again, or read the helper's log.`, INSTALL_EXIT.failed);
  }
}
