// Test support only (imported by the diagnostics tests, never by the app): a
// machine to gather diagnostics from, in scratch directories. The user's side
// (home, settings, mappings, app logs) belongs to `owner`; the install's side
// (state, config, helper logs) is root's, as on a real machine.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BEGIN_MARKER, END_MARKER } from '../../../common/hosts-block';
import { INSTALL_RECORD_NAME } from '../../../common/install-record';
import type { InstallLayout } from '../../../common/paths';
import type { UserPaths } from '../../../common/user-paths';

export interface DiagnosticsMachine {
  root: string;
  home: string;
  userPaths: Pick<UserPaths, 'settingsPath' | 'mappingsPath' | 'logDir' | 'diagnosticsDir'>;
  layout: InstallLayout;
  hostsPath: string;
  /** A line of the user's own in the hosts file: must never reach the archive. */
  userHostsLine: string;
  cleanup(): void;
}

export interface MachineOptions {
  /** Who owns the user's side; default root (the test process). */
  owner?: { uid: number; gid: number };
  /** Text planted in the app log, the helper log, settings, mappings and the helper's config. */
  plant?: (where: string) => string;
  /** The helper's log directory root-only (0700): the user cannot read it. */
  lockHelperLogs?: boolean;
}

export function makeMachine(options: MachineOptions = {}): DiagnosticsMachine {
  const plant = options.plant ?? (() => '');
  const root = mkdtempSync(join(tmpdir(), 'berth-diag-'));
  chmodSync(root, 0o755);
  const home = join(root, 'home');
  const config = join(home, '.config/berth');
  const logs = join(home, '.local/state/berth');
  mkdirSync(config, { recursive: true, mode: 0o700 });
  mkdirSync(logs, { recursive: true, mode: 0o700 });
  writeFileSync(join(config, 'settings.json'), JSON.stringify({ privilegedPortMapping: false, extra: plant('settings') }));
  writeFileSync(join(config, 'mappings.json'), JSON.stringify([{ address: '127.0.0.1', port: 80, target: plant('mappings') }]));
  writeFileSync(join(logs, 'backend.log'), `2026-01-01T00:00:00.000Z info started\n${plant('app log')}\n2026-01-01T00:00:01.000Z info ready\n`);
  writeFileSync(join(logs, 'backend.log.1'), '2025-12-31T00:00:00.000Z info older\n');
  if (options.owner !== undefined) {
    const { uid, gid } = options.owner;
    execFileSync('chown', ['-R', `${uid}:${gid}`, home]);
  }
  chmodSync(home, 0o700);

  // The install's side, root's.
  const system = join(root, 'system');
  const etc = join(system, 'etc');
  const state = join(system, 'state');
  const log = join(system, 'log');
  for (const dir of [etc, state, log]) mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileSync(join(etc, 'helper.json'), JSON.stringify({ allowUid: 1000, appPath: '/opt/Berth', note: plant('helper config') }), { mode: 0o644 });
  writeFileSync(join(state, INSTALL_RECORD_NAME), JSON.stringify({ version: 1, paths: [{ path: '/opt/x', kind: 'file' }] }), { mode: 0o644 });
  writeFileSync(join(log, 'helper.log'), `berth-helper: serving\n${plant('helper log')}\n`, { mode: 0o644 });
  writeFileSync(join(log, 'audit.log'), `${JSON.stringify({ op: 'hello', args: { note: plant('audit log') } })}\n`, { mode: 0o644 });
  if (options.lockHelperLogs) chmodSync(log, 0o700);
  const layout: InstallLayout = {
    helperDir: join(system, 'libexec'),
    configPath: join(etc, 'helper.json'),
    userModePath: join(etc, 'user-mode.json'),
    stateDir: state,
    logDir: log,
    auditLogPath: join(log, 'audit.log'),
    socketDir: join(system, 'run'),
    socketPath: join(system, 'run/helper.sock'),
    pidPath: join(system, 'run/helper.pid'),
  };

  const userHostsLine = '192.168.1.5 my-private-nas';
  const hostsPath = join(root, 'hosts');
  writeFileSync(
    hostsPath,
    `127.0.0.1 localhost\n${userHostsLine}\n${BEGIN_MARKER}\n::1 localhost\n127.0.0.1 berth.internal\n${END_MARKER}\n# after\n`,
    { mode: 0o644 },
  );
  return {
    root,
    home,
    userPaths: { settingsPath: join(config, 'settings.json'), mappingsPath: join(config, 'mappings.json'), logDir: logs, diagnosticsDir: home },
    layout,
    hostsPath,
    userHostsLine,
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

export interface Extracted {
  /** Member names as `tar -t` lists them. */
  members: string[];
  /** Each file's content, by its name relative to the archive's top directory. */
  files: Map<string, string>;
  mode: number;
  uid: number;
}

/** Lists and unpacks an archive with the system's tar (not the library that wrote it). */
export function extract(archive: string): Extracted {
  const st = statSync(archive);
  const members = execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' }).split('\n').filter((l) => l.length > 0);
  const out = mkdtempSync(join(tmpdir(), 'berth-extract-'));
  try {
    execFileSync('tar', ['-xzf', archive, '-C', out]);
    const files = new Map<string, string>();
    const [top] = readdirSync(out);
    const walk = (dir: string, prefix: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
        if (entry.isDirectory()) walk(join(dir, entry.name), rel);
        else files.set(rel, readFileSync(join(dir, entry.name), 'utf8'));
      }
    };
    walk(join(out, top!), '');
    return { members, files, mode: st.mode & 0o777, uid: st.uid };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
