import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The user's own Berth paths, defined once: settings, mappings, logs, the
 * backend's control socket, the User CLI tools directory and where
 * diagnostics archives go. Everything here belongs to the user; nothing
 * here is ever touched by root.
 */
export interface UserPaths {
  home: string;
  /** settings.json and mappings.json (XDG_CONFIG_HOME on Linux, Application Support on macOS). */
  configDir: string;
  settingsPath: string;
  mappingsPath: string;
  /** The backend's own log (backend.log). */
  logDir: string;
  /** 0700 directory for the control socket (XDG_RUNTIME_DIR on Linux when set). */
  runtimeDir: string;
  controlSocketPath: string;
  /** One record per running berth run (main/core/ports/run-records.ts): which ports it holds, to word "in use". */
  runsDir: string;
  /** CLI tools location "User": no password needed. */
  userBinDir: string;
  /** Diagnostics archives land here. */
  diagnosticsDir: string;
}

export interface UserPathsEnv {
  home?: string;
  platform?: NodeJS.Platform;
  env?: NodeJS.ProcessEnv;
  uid?: number;
}

/** An env var only when it holds an absolute path (the XDG spec says relative ones are ignored). */
function absoluteEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value !== undefined && value.startsWith('/') ? value : undefined;
}

export function userPaths(options: UserPathsEnv = {}): UserPaths {
  const env = options.env ?? process.env;
  const home = options.home ?? homedir();
  const platform = options.platform ?? process.platform;
  const uid = options.uid ?? process.getuid?.() ?? 0;
  let configDir: string;
  let logDir: string;
  let runtimeDir: string;
  if (platform === 'darwin') {
    configDir = join(home, 'Library/Application Support/Berth');
    logDir = join(home, 'Library/Logs/Berth');
    runtimeDir = join(configDir, 'run');
  } else {
    configDir = join(absoluteEnv(env, 'XDG_CONFIG_HOME') ?? join(home, '.config'), 'berth');
    logDir = join(absoluteEnv(env, 'XDG_STATE_HOME') ?? join(home, '.local/state'), 'berth');
    const xdgRuntime = absoluteEnv(env, 'XDG_RUNTIME_DIR');
    // Without XDG_RUNTIME_DIR (no login session, e.g. su/cron), a per-uid directory under the config dir:
    // never a shared /tmp path another user could pre-create.
    runtimeDir = xdgRuntime !== undefined ? join(xdgRuntime, 'berth') : join(configDir, `run-${uid}`);
  }
  return {
    home,
    configDir,
    settingsPath: join(configDir, 'settings.json'),
    mappingsPath: join(configDir, 'mappings.json'),
    logDir,
    runtimeDir,
    controlSocketPath: join(runtimeDir, 'control.sock'),
    runsDir: join(runtimeDir, 'runs'),
    userBinDir: join(home, '.berth/bin'),
    diagnosticsDir: home,
  };
}
