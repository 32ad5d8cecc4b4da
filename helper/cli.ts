import { parseArgs } from 'node:util';
import { BERTH_VERSION } from '../common/app-version';
import { helperConfig } from '../common/helper-config/schema';
import { readConfigFile } from '../common/helper-config/read';
import { readKeyFile } from './daemon/org-key';
import { INSTALL_USAGE, installCommand, uninstallCommand } from './install/cli';
import { describeIssues } from '../common/protocol';
import { serve } from './serve';

const USAGE = `berth-helper ${BERTH_VERSION} — Berth's privileged helper

Usage:
  berth-helper serve --socket PATH --allow-uid UID[,UID...] [--audit-log PATH]
                     [--app PATH] [--link-dir DIR] [--org-key FILE] [--state-dir DIR]
                     [--max-connections N] [--max-connections-per-uid N]
                     [--frame-deadline-ms N] [--idle-timeout-ms N]
                     [--audit-files N] [--audit-file-bytes N] [--audit-repeat-window-ms N]
                     [--audit-refusals-per-window N]
      Run the helper in the foreground (development and tests). Must run as root.
      Only root and the UIDs may talk to it (checked on every connection); the
      socket is root's, mode 0666, in a directory that must be root-owned and
      not group/world-writable.
        --app PATH       where Berth is installed (CLI link targets are computed from it)
        --link-dir DIR   system directory for CLI links (default /usr/local/bin)
        --org-key FILE   the organization's Ed25519 public key (PEM); policies must be signed by it
        --state-dir DIR  root-owned directory for the policy cache (default /var/lib/berth)
        --audit-files N, --audit-file-bytes N
                         the audit log rotates within its directory: at most N files
                         (default 4) of at most N bytes (default 8 MiB) each
        --audit-repeat-window-ms N, --audit-refusals-per-window N
                         identical successes within N ms (default 60000) are one line
                         and a count; a client gets N refusal lines (default 64) per window
  berth-helper serve --config FILE
      Run with the settings the installer wrote (a root-owned JSON file); this is
      how the installed service starts.
${INSTALL_USAGE}
  berth-helper --version
  berth-helper --help

Exit codes: 0 ok, 1 could not start / failed, 64 bad usage, 73 unsafe install path,
77 not root, 78 bad config file.
`;

function usageError(message: string): number {
  console.error(`berth-helper: ${message}\nRun "berth-helper --help" for usage.`);
  return 64;
}

function integerFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`--${name} must be a whole number, got "${value}"`);
  return Number(value);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 64 : 0;
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${BERTH_VERSION}\n`);
    return 0;
  }
  if (command === 'install') return installCommand(rest);
  if (command === 'uninstall') return uninstallCommand(rest);
  if (command !== 'serve') return usageError(`unknown command "${command}"`);

  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        socket: { type: 'string' },
        'allow-uid': { type: 'string' },
        'audit-log': { type: 'string' },
        app: { type: 'string' },
        'link-dir': { type: 'string' },
        'org-key': { type: 'string' },
        'state-dir': { type: 'string' },
        'max-connections': { type: 'string' },
        'max-connections-per-uid': { type: 'string' },
        'frame-deadline-ms': { type: 'string' },
        'idle-timeout-ms': { type: 'string' },
        'audit-files': { type: 'string' },
        'audit-file-bytes': { type: 'string' },
        'audit-repeat-window-ms': { type: 'string' },
        'audit-refusals-per-window': { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (error) {
    return usageError((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.config !== undefined) {
    const others = Object.keys(values).filter((k) => k !== 'config');
    if (others.length > 0) return usageError(`--config takes no other options (got --${others.join(', --')})`);
    if (process.getuid?.() !== 0) {
      console.error('berth-helper: serve must run as root (it binds privileged ports on behalf of the enrolled users)');
      return 77;
    }
    let config;
    try {
      config = readConfigFile(values.config);
    } catch (error) {
      console.error(`berth-helper: cannot use ${values.config}: ${(error as Error).message}`);
      return 78;
    }
    return serve(config, values.config);
  }
  if (values.socket === undefined) return usageError('serve needs --socket PATH (or --config FILE)');
  if (values['allow-uid'] === undefined) return usageError('serve needs --allow-uid UID (or several: --allow-uid 1000,1001)');
  let parsed;
  try {
    parsed = helperConfig.safeParse({
      socketPath: values.socket,
      allowUids: values['allow-uid'].split(',').map((uid) => integerFlag('allow-uid', uid)),
      auditLogPath: values['audit-log'],
      appPath: values.app,
      linkDir: values['link-dir'],
      orgPublicKey: values['org-key'] === undefined ? undefined : readKeyFile(values['org-key']),
      stateDir: values['state-dir'],
      limits: {
        maxConnections: integerFlag('max-connections', values['max-connections']),
        maxConnectionsPerUid: integerFlag('max-connections-per-uid', values['max-connections-per-uid']),
        frameDeadlineMs: integerFlag('frame-deadline-ms', values['frame-deadline-ms']),
        idleTimeoutMs: integerFlag('idle-timeout-ms', values['idle-timeout-ms']),
        auditFiles: integerFlag('audit-files', values['audit-files']),
        auditFileBytes: integerFlag('audit-file-bytes', values['audit-file-bytes']),
        auditRepeatWindowMs: integerFlag('audit-repeat-window-ms', values['audit-repeat-window-ms']),
        auditRefusalsPerWindow: integerFlag('audit-refusals-per-window', values['audit-refusals-per-window']),
      },
    });
  } catch (error) {
    return usageError((error as Error).message);
  }
  if (!parsed.success) return usageError(describeIssues(parsed.error));
  return serve(parsed.data);
}
