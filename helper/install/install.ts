import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { INSTALL_RECORD_NAME, readInstallRecord, type InstallRecord } from '../../common/install-record';
import { helperProgramFiles, programDigest, shortDigest, type ProgramFile } from '../../common/program-digest';
import { helperLogPath, SERVICE_LABEL, type InstallLayout } from '../../common/paths';
import { writeFileAtomically } from '../fs/atomic-write';
import { updateConfigFile, writeConfigFile } from '../fs/config-file';
import { writeInstallRecord } from '../fs/install-record';
import { discardRemovalRequest } from '../daemon/removal-request';
import { markInstallFinished, markInstallStarted } from '../fs/install-marker';
import { INSTALL_MARKER_NAME, installUnderWay, readInstallMarker } from '../../common/install-marker';
import { withTrustedDirectory } from '../../common/fs/trusted-directory';
import { MAX_ENROLLED_UIDS, type HelperConfig } from '../../common/helper-config/schema';
import { ensureRootDirectory, preflightRootDirectory } from './root-dirs';
import { detectServiceManager, preflightService, serviceFiles, startService } from './service-manager';
import { installedCopyMatches, listed, startTimeChanges } from './restart';

export interface InstallRequest {
  /** Where the app is installed; CLI link targets are computed from it. */
  appPath: string;
  /** The user to serve: the first one on a fresh install, enrolled beside the others on an existing one. */
  uid: number;
  /** The organization's Ed25519 public key (PEM), if the machine is managed. */
  orgPublicKey?: string;
  /** Where the backend fetches the signed policy (already validated by policyUrlSchema). */
  policyUrl?: string;
}

export type Log = (line: string) => void;

/**
 * Socket paths earlier versions wrote into the config that the layout no
 * longer uses: macOS's /private/var/run/berth, which the OS empties at boot
 * (see common/paths.ts). An upgrade keeps the config but moves these.
 */
export const FORMER_SOCKET_PATHS: readonly string[] = ['/private/var/run/berth/helper.sock'];

/** The program files of the running helper: what gets copied into place. */
export interface HelperProgram {
  /** Files beside each other: the entry (a SEA binary or a JS bundle) and the native addon. */
  files: ProgramFile[];
  /** How the installed copy is started, given the directory it was copied to. */
  command(helperDir: string, configPath: string): string[];
}

/**
 * The running helper, as a program to install. A SEA binary carries Node; a
 * bundle is run by this Node, which then runs as root for good: it must be
 * root's alone, or whoever can write it owns the helper.
 */
export function currentProgram(): HelperProgram {
  const sea = basename(process.execPath).startsWith('berth-helper');
  const entry = realpathSync(sea ? process.execPath : process.argv[1]!);
  const files = helperProgramFiles(entry);
  if (sea) return { files, command: (dir, config) => [join(dir, basename(entry)), 'serve', '--config', config] };
  const node = realpathSync(process.execPath);
  const st = statSync(node);
  if (st.uid !== 0 || (st.mode & 0o022) !== 0) {
    throw new Error(`${node} is not root's alone (owner uid ${st.uid}): it would run the helper as root; install with the packaged app`);
  }
  return { files, command: (dir, config) => [node, join(dir, basename(entry)), 'serve', '--config', config] };
}

/**
 * Installs (or upgrades) the helper: root-only directories, the program
 * copied in atomically, the config (kept on upgrade, with the user enrolled
 * beside the others), the install record, then the service. Every step says
 * what it did.
 */
export async function installHelper(request: InstallRequest, layout: InstallLayout, program: HelperProgram, log: Log): Promise<void> {
  const dirs = [layout.helperDir, dirname(layout.configPath), layout.stateDir, layout.logDir, layout.socketDir];
  const manager = detectServiceManager();
  // Every location is checked before anything is created: a refusal changes nothing.
  for (const dir of dirs) preflightRootDirectory(dir);
  preflightService(manager);
  const createdDirs: string[] = [];
  for (const dir of dirs) {
    const made = ensureRootDirectory(dir);
    createdDirs.push(...made);
    log(made.length > 0 ? `created ${made.join(', ')} (root, 0755)` : `checked ${dir}: root's alone`);
  }

  // A marker whose installer is gone: that install died between its steps (a kill, a power cut), maybe
  // after copying a program it never started. Whatever runs now may not be what is installed.
  const unfinished = readInstallMarker(layout.stateDir) !== undefined && !installUnderWay(layout.stateDir);
  // From here until the new helper serves, its socket may be gone or refuse: the marker tells the app
  // that this is an install under way, not a missing helper (common/install-marker.ts).
  markInstallStarted(layout.stateDir);
  await installSteps(request, layout, program, log, manager, createdDirs, unfinished ? ['an earlier install did not finish'] : []);
  // Only once every step went through. An install that failed half-way (its program or config
  // already written, the running helper not restarted) leaves the marker, naming an installer
  // that is gone, so the next install restarts whatever runs: it may hold an old org key.
  markInstallFinished(layout.stateDir);
}

async function installSteps(
  request: InstallRequest,
  layout: InstallLayout,
  program: HelperProgram,
  log: Log,
  manager: ReturnType<typeof detectServiceManager>,
  createdDirs: readonly string[],
  /** What already asks for a running helper to be restarted; this install adds its own reasons (restart.ts). */
  restartFor: readonly string[],
): Promise<void> {
  // An uninstall asked under systemd whose finisher never ran to the end: this install asks for
  // the helper, so that request is void, not something a later exit for removal should act on.
  if (discardRemovalRequest(layout.stateDir)) log(`discarded an unfinished uninstall request in ${layout.stateDir}`);
  log(`service manager: ${manager}`);
  const reasons = [...restartFor];

  // Replaced even when unchanged (atomically: a running copy is never half-written), so the
  // installed copy is exactly what this installer carries; compared first, for the restart.
  let programChanged = false;
  withTrustedDirectory(layout.helperDir, (dir) => {
    for (const file of program.files) {
      const content = readFileSync(file.path);
      const same = installedCopyMatches(dir, file.name, content);
      writeFileAtomically(dir, file.name, content, { mode: 0o755 });
      log(`installed ${join(layout.helperDir, file.name)} (root, 0755)${same ? ': the same as before' : ''}`);
      programChanged ||= !same;
    }
  });
  if (programChanged) reasons.push('its program changed');

  let config: HelperConfig;
  let newlyEnrolled = false;
  if (existsSync(layout.configPath)) {
    const enrolment = enrol(layout.configPath, request, log);
    newlyEnrolled = enrolment.newlyEnrolled;
    config = enrolment.after;
    // The app looks for the socket only at the layout's path: a socket an earlier version placed elsewhere moves.
    const former = config.socketPath;
    if (former !== layout.socketPath && FORMER_SOCKET_PATHS.includes(former)) {
      config = updateConfigFile(layout.configPath, (current) => ({ ...current, socketPath: layout.socketPath })).after;
      log(`moved the socket from ${former} to ${layout.socketPath} in ${layout.configPath}`);
    }
    const fields = startTimeChanges(enrolment.before, config);
    if (fields.length > 0) reasons.push(`${listed(fields)} changed in its config, which it reads only at start`);
  } else {
    // Nothing should run without a config; anything that does was not started with this one.
    reasons.push('its config was written anew');
    config = writeConfigFile(layout.configPath, {
      socketPath: layout.socketPath,
      allowUids: [request.uid],
      auditLogPath: layout.auditLogPath,
      appPath: request.appPath,
      stateDir: layout.stateDir,
      ...(request.orgPublicKey !== undefined ? { orgPublicKey: request.orgPublicKey } : {}),
      ...(request.policyUrl !== undefined ? { policyUrl: request.policyUrl } : {}),
    });
    log(`wrote ${layout.configPath} (root, 0644): serves uid ${request.uid}, app at ${request.appPath}`);
    if (request.policyUrl !== undefined) log(`policy URL: ${request.policyUrl} (the app fetches it; the helper verifies what it hands over)`);
  }

  // What uninstall will remove: files first, then directories deepest first; merged with an earlier record.
  const previous = readInstallRecord(layout.stateDir)?.paths ?? [];
  const files = [
    ...program.files.map((f) => join(layout.helperDir, f.name)),
    layout.configPath,
    layout.auditLogPath,
    helperLogPath(layout),
    layout.pidPath,
    // Left behind only by an installer that died mid-way; uninstall removes it with the rest.
    join(layout.stateDir, INSTALL_MARKER_NAME),
    ...serviceFiles(manager),
  ];
  const recordedDirs = [...new Set([...previous.filter((p) => p.kind === 'directory').map((p) => p.path), ...createdDirs])].sort(
    (a, b) => b.length - a.length,
  );
  // Of the copies just written, not the source: what root will actually run.
  const programSha256 = programDigest(program.files.map((f) => ({ name: f.name, path: join(layout.helperDir, f.name) })));
  const record: InstallRecord = {
    version: 1,
    paths: [
      ...files.map((path) => ({ path, kind: 'file' as const })),
      ...recordedDirs.map((path) => ({ path, kind: 'directory' as const })),
    ],
    programSha256,
  };
  writeInstallRecord(layout.stateDir, record);
  log(`recorded ${record.paths.length} paths in ${join(layout.stateDir, INSTALL_RECORD_NAME)} for uninstall, and the program's digest ${shortDigest(programSha256)}`);

  const service = await startService(
    manager,
    {
      label: SERVICE_LABEL,
      helperCommand: program.command(layout.helperDir, layout.configPath),
      socketPath: config.socketPath,
      installDir: layout.helperDir,
    },
    layout,
    log,
    reasons,
  );
  if (service.kept) {
    // launchd does not say whether its helper runs right now (it may have exited when idle), only that its job is loaded.
    const running = service.pid === undefined ? 'the helper' : `the running helper (pid ${service.pid})`;
    log(
      newlyEnrolled
        ? `enrolled uid ${request.uid}; ${running} serves it now, no restart`
        : `kept ${running}: neither its program nor anything it reads only at start changed, so no restart`,
    );
  }
}

/**
 * An install on a machine that has one: the user is enrolled beside the
 * accounts already served (each enrolled by their own consent and an
 * administrator's password), and the admin-managed fields are replaced when
 * given. Everything else (where the app is, the limits) stays as the first
 * install wrote it. One atomic rewrite that loses no concurrent change
 * (another user enrolling at the same time); the running helper reads the
 * new enrolment on its next connection, so an enrolment alone restarts
 * nothing (restart.ts).
 */
function enrol(configPath: string, request: InstallRequest, log: Log): { before: HelperConfig; after: HelperConfig; newlyEnrolled: boolean } {
  let managed: ReturnType<typeof managedChanges> = [];
  const { before, after, changed } = updateConfigFile(configPath, (config) => {
    managed = managedChanges(config, request);
    const enrolled = config.allowUids.includes(request.uid);
    if (!enrolled && config.allowUids.length >= MAX_ENROLLED_UIDS) {
      throw new Error(`the helper already serves ${MAX_ENROLLED_UIDS} accounts, the most it may; uninstall it for an account that no longer uses Berth first`);
    }
    if (enrolled && managed.length === 0) return undefined;
    return {
      ...config,
      ...Object.fromEntries(managed),
      allowUids: enrolled ? config.allowUids : [...config.allowUids, request.uid],
    };
  });
  const others = before.allowUids.filter((uid) => uid !== request.uid);
  if (before.allowUids.includes(request.uid)) log(`kept the existing config ${configPath}: uid ${request.uid} is already enrolled`);
  else log(`enrolled uid ${request.uid} in ${configPath}${others.length > 0 ? ` (beside ${others.length === 1 ? 'uid' : 'uids'} ${others.join(', ')})` : ''}`);
  // The app's own prompt never passes these; an admin who does means to change them
  // (e.g. MDM taking over a machine whose user installed the helper first).
  if (changed) for (const [key] of managed) log(`set ${key} in ${configPath}`);
  return { before, after, newlyEnrolled: !before.allowUids.includes(request.uid) };
}

/**
 * The admin-managed fields an upgrade replaces when given explicitly: the
 * org key and the policy URL.
 */
function managedChanges(config: HelperConfig, request: InstallRequest): Array<['orgPublicKey' | 'policyUrl', string]> {
  const changes: Array<['orgPublicKey' | 'policyUrl', string]> = [];
  if (request.orgPublicKey !== undefined && request.orgPublicKey !== config.orgPublicKey) changes.push(['orgPublicKey', request.orgPublicKey]);
  if (request.policyUrl !== undefined && request.policyUrl !== config.policyUrl) changes.push(['policyUrl', request.policyUrl]);
  return changes;
}
