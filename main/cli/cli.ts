import { BERTH_VERSION, versionLine } from '../../common/app-version';
import type { Capabilities } from '../../common/api/capabilities';
import { HOSTS_PATH, installLayout } from '../../common/paths';
import { userPaths } from '../../common/user-paths';
import { gatherCapabilities } from '../core/capabilities/gather';
import { helperConnector } from '../core/diagnostics/sources';
import { policyPortRules, policySource, readAppPolicy } from '../core/policy/app-policy';
import { appCommand } from './app-command';
import { connectBackend, requireBackend } from './backend-access';
import { diagnoseCommand } from './diagnose-command';
import { EXIT } from './exit-codes';
import { helperCommand } from './helper-command';
import { UsageError, type CliIO } from './io';
import { policyCommand } from './policy-command';
import { portsCommand } from './ports-command';
import { registryCommand } from './registry-command';
import { runCommand } from './run-command';
import { directSettingsAccess, settingsCommand, type SettingsAccess } from './settings-command';
import { statusCommand } from './status-command';

export const USAGE = `berth ${BERTH_VERSION} — ports below 1024, CLI tools and hosts entries without running as root

Usage: berth <command> [options]

Commands:
  status            What this machine allows: helper, user mode, low ports, CLI tools, hosts, policy
  ports             List, publish and remove ports (berth ports --help); needs Berth running
  run               Run a command with a port it could not bind itself, handed over as fd 3
  app               Run Berth without Electron: the backend, and its window in your browser
  settings          Show or change settings (berth settings --help)
  helper            Install, uninstall or check the privileged helper (berth helper --help)
  diagnose          Gather logs and state into one archive for support
  registry check    Is an image allowed by your organization's registry policy?
  policy            Admin tools: make the org key, sign and verify policies (berth policy --help)

Options:
  --help, -h        Show help (also after any command: berth ports --help)
  --version         Print the version (and the Node inside)

Every command takes --json where it prints a report. Exit codes are the same
across commands: 0 ok, 1 error, 3 helper unavailable, 4 helper needs update,
5 password prompt refused, 6 locked by your organization, 7 Berth not running,
64 bad usage (see docs/CLI.md).
`;

/** The capabilities report, computed here: `berth status` and `berth diagnose` need no running app. */
async function capabilities(): Promise<Capabilities> {
  const paths = userPaths();
  const { settings } = await directSettingsAccess(paths.settingsPath).get();
  return gatherCapabilities({ settings, policy: readAppPolicy(), userBinDir: paths.userBinDir });
}

/** Settings through the running app when there is one (it applies the change at once), else the file. */
async function settingsAccess(): Promise<SettingsAccess & { close(): void }> {
  const backend = await connectBackend();
  if (backend === undefined) return { ...directSettingsAccess(), close: () => undefined };
  return {
    async get() {
      const state = await backend.call('state.get', {});
      // Named as the file path names it ("Example Corp policy v3"): one answer whichever way the CLI reads.
      return { settings: state.settings, locked: state.locked, lockedBy: policySource(state.capabilities.policy) };
    },
    set: (change) => backend.call('settings.set', change),
    close: () => backend.close(),
  };
}

/** The commands `runCli` knows: a usage error under one of them points to its own --help. */
const COMMANDS = new Set(['status', 'ports', 'run', 'app', 'settings', 'helper', 'diagnose', 'registry', 'policy']);

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
        io.err(USAGE);
        return EXIT.usage;
      case '--help':
      case '-h':
      case 'help':
        io.out(USAGE);
        return EXIT.ok;
      case '--version':
        io.out(versionLine('berth'));
        return EXIT.ok;
      case 'status':
        return await statusCommand(rest, io, { capabilities });
      case 'ports':
        return await portsCommand(rest, io, () => requireBackend());
      case 'run':
        return await runCommand(rest, io, {
          privilegedPortMapping: async () => (await directSettingsAccess().get()).settings.privilegedPortMapping,
          portRules: () => policyPortRules(readAppPolicy()),
        });
      case 'app':
        return await appCommand(rest, io);
      case 'settings': {
        const access = await settingsAccess();
        try {
          return await settingsCommand(rest, io, access);
        } finally {
          access.close();
        }
      }
      case 'helper':
        return await helperCommand(rest, io);
      case 'diagnose': {
        const layout = installLayout();
        return await diagnoseCommand(rest, io, {
          capabilities,
          userPaths: userPaths(),
          helper: helperConnector(layout.socketPath),
          layout,
          hostsPath: HOSTS_PATH,
        });
      }
      case 'registry':
        return await registryCommand(rest, io);
      case 'policy':
        return await policyCommand(rest, io);
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      // "berth launch --help" would only fail again: an unknown command points to the top-level help.
      const helpFor = command !== undefined && COMMANDS.has(command) ? `${command} ` : '';
      io.err(`berth: ${(error as Error).message}\nRun "berth ${helpFor}--help" for usage.\n`);
      return EXIT.usage;
    }
    io.err(`berth: ${(error as Error).message}\n`);
    return EXIT.error;
  }
}
