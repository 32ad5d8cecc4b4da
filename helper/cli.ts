import { parseArgs } from 'node:util';
import { BERTH_VERSION, versionLine } from '../common/app-version';
import { helperConfig } from '../common/helper-config/schema';
import { readConfigFile } from '../common/helper-config/read';
import { readKeyFile } from './daemon/org-key';
import { INSTALL_USAGE, installCommand, startCommand, uninstallCommand } from './install/cli';
import { describeIssues } from '../common/protocol';
import { serve } from './serve';
import { finishRemoval, OUTSIDE_FLAG } from './install/finish-removal';
import { resolve } from 'node:path';
import { installLayout } from '../common/paths';

const USAGE = `berth-helper ${BERTH_VERSION} — Berth's privileged helper

Usage:
  berth-helper serve --socket PATH --allow-uid UID[,UID...] [--audit-log PATH]
                     [--app PATH] [--link-dir DIR] [--org-key FILE] [--state-dir DIR]
                     [--max-connections N] [--max-connections-per-uid N]
                     [--frame-deadline-ms N] [--idle-timeout-ms N] [--idle-exit-ms N]
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
        --idle-exit-ms N on a socket from a service manager (LISTEN_FDS), exit after N ms
                         with nothing open or in flight (default 30000; 0: never)
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
77 not root, 78 bad config file (serve --config, start).
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
    process.stdout.write(versionLine('berth-helper'));
    return 0;
  }
  if (command === 'install') return installCommand(rest);
  if (command === 'uninstall') return uninstallCommand(rest);
  if (command === 'start') return startCommand(rest);
  if (command === 'finish-removal') return finishRemovalCommand(rest);
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
        'idle-exit-ms': { type: 'string' },
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
    // The installed service's own config: only that helper may remove itself when its app is gone;
    // enrolment is followed in the file it was read from (users enrol and leave while it runs).
    const layout = installLayout();
    return serve(config, { configPath: values.config, ...(resolve(values.config) === layout.configPath ? { installed: layout } : {}) });
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
        idleExitMs: integerFlag('idle-exit-ms', values['idle-exit-ms']),
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

/**
 * `finish-removal --config FILE`: run by systemd (the helper unit's
 * ExecStopPost=+) after the helper stops; see helper/install/finish-removal.ts.
 */
async function finishRemovalCommand(argv: string[]): Promise<number> {
  const [flag, file, ...extra] = argv;
  const outside = extra.length === 1 && extra[0] === OUTSIDE_FLAG;
  if (flag !== '--config' || file === undefined || (extra.length > 0 && !outside)) {
    return usageError(`finish-removal takes --config FILE [${OUTSIDE_FLAG}] (systemd runs it)`);
  }
  if (process.getuid?.() !== 0) {
    console.error('berth-helper: finish-removal must run as root (systemd runs it after the helper stops)');
    return 77;
  }
  const layout = installLayout();
  // Only for the installed helper: its unit is the one that runs this.
  if (resolve(file) !== layout.configPath) return usageError(`finish-removal works on the installed config (${layout.configPath}) only`);
  let config;
  try {
    config = readConfigFile(file);
  } catch {
    return 0; // already removed (a second stop), or never installed: nothing to finish
  }
  try {
    await finishRemoval(config, layout, process.env, outside, (line) => console.error(`berth-helper: ${line}`));
    return 0;
  } catch (error) {
    console.error(`berth-helper: finishing the removal failed: ${(error as Error).message}; run "berth-helper uninstall" as root`);
    return 1;
  }
}
