import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { capabilitiesSchema, type Capabilities } from '../../../common/api/capabilities';
import { CLI_TOOLS, cliToolTarget, SYSTEM_BIN_DIR } from '../../../common/cli-tools';
import { blockEntries, blockLines } from '../../../common/hosts-block';
import { HOSTS_PATH, installLayout, systemPaths } from '../../../common/paths';
import type { Settings } from '../../../common/settings/schema';
import { readUserMode } from '../../../common/user-mode';
import { untrustedProgramReason } from '../../../common/fs/trusted-directory';
import { userPaths } from '../../../common/user-paths';
import { helperInstallWarning } from '../../install/helper-install';
import { helperBuilds, type HelperBuilds } from '../../install/helper-build';
import type { HelperStatus } from '../helper-status';
import { probeInstalledHelper } from '../installed-helper';
import { readRegularFile, unreadableReason } from '../diagnostics/read-file';

export interface GatherOptions {
  settings: Settings;
  /** Default: the installed helper's socket. */
  helperSocketPath?: string;
  /** Default: the installed user-mode record. */
  userModePath?: string;
  /** Default: the system hosts file. */
  hostsPath?: string;
  /**
   * The installed app, to tell our CLI links from others. Default: the app
   * the install recorded (the user-mode record, else the helper's config).
   */
  appPath?: string;
  /** The installed helper's config (root-owned, world-readable); default the install layout's. */
  helperConfigPath?: string;
  /** The installed helper's state dir (an install under way leaves its marker there); default the install layout's. */
  helperStateDir?: string;
  /** Default: the user's ~/.berth/bin. */
  userBinDir?: string;
  /** Default: /usr/local/bin. */
  systemBinDir?: string;
  /** From the policy cache (main/core/policy readAppPolicy). */
  policy: Capabilities['policy'];
  platform?: NodeJS.Platform;
  /** Default: /proc/sys/net/ipv4/ip_unprivileged_port_start (Linux). */
  unprivilegedPortStartPath?: string;
  /** The installed and bundled helpers' digests; default: the install record and the bundled files (main/install/helper-build). */
  builds?: (platform: NodeJS.Platform) => HelperBuilds;
  /** Who can change the helper the prompt would run; default: the bundled helper's check (main/install/who-can-change). */
  installWarning?: () => string | null;
  /**
   * The helper's status; default: ask it now (probeInstalledHelper). The
   * backend passes its HelperProbeCache, so a periodic refresh does not
   * connect (and wake an idle helper) when nothing changed.
   */
  helperStatus?: () => Promise<HelperStatus>;
}

export const UNPRIVILEGED_PORT_START_PATH = '/proc/sys/net/ipv4/ip_unprivileged_port_start';
const SYSCTL_NAME = 'net.ipv4.ip_unprivileged_port_start';
/** Linux's CAP_NET_BIND_SERVICE bit in /proc/self/status CapEff. */
const CAP_NET_BIND_SERVICE = 10n;
/** Bigger than any hosts file we expect; a larger one is reported, not read whole. */
const MAX_HOSTS_BYTES = 64 * 1024 * 1024;

/** One report of what this machine and install mode allow; exactly common/api/capabilities.ts. */
export async function gatherCapabilities(opts: GatherOptions): Promise<Capabilities> {
  const platform = opts.platform ?? process.platform;
  const status = await (opts.helperStatus ?? (() => probeInstalledHelper(helperProbeOptions(opts, platform))))();
  const report: Capabilities = {
    platform,
    helper: {
      state: status.state,
      message: status.message,
      diagnosis: status.diagnosis,
      version: status.helper?.helperVersion ?? null,
      bundledVersion: status.bundledVersion,
      bundledBuild: status.bundledBuild ?? null,
      protocol: status.helper?.protocol ?? null,
      operations: status.helper?.capabilities ?? [],
      installWarning: (opts.installWarning ?? helperInstallWarning)(),
    },
    userMode: status.userMode ? { user: status.userMode.user, uid: status.userMode.uid, limits: [...status.userMode.limits] } : null,
    directLowPortBind: directLowPortBind(platform, opts.unprivilegedPortStartPath ?? UNPRIVILEGED_PORT_START_PATH),
    cliTools: cliTools(opts, platform),
    hostsEntries: hostsEntries(opts.hostsPath ?? HOSTS_PATH),
    policy: opts.policy,
  };
  // Our own output, checked against the contract the UI and CLI parse it with.
  return capabilitiesSchema.parse(report);
}

/** Where gather looks for the helper and its install; the backend's probe cache asks with the same. */
export function helperProbeOptions(
  opts: Pick<GatherOptions, 'helperSocketPath' | 'userModePath' | 'helperConfigPath' | 'helperStateDir' | 'builds'>,
  platform: NodeJS.Platform,
) {
  return {
    socketPath: opts.helperSocketPath ?? systemPaths(platform).socketPath,
    userModePath: opts.userModePath,
    configPath: opts.helperConfigPath ?? installLayout(platform).configPath,
    ...(opts.helperStateDir !== undefined ? { stateDir: opts.helperStateDir } : {}),
    platform,
    // Asked at probe time only: the bundled helper is hashed when there is an installed digest to compare with.
    builds: (opts.builds ?? helperBuilds)(platform),
  };
}

/** Can this process bind ports below 1024 (every one of them) without the helper? */
export function directLowPortBind(platform: NodeJS.Platform, sysctlPath: string): Capabilities['directLowPortBind'] {
  if (platform === 'darwin') {
    return {
      anyAddress: true,
      specificAddress: false,
      detail:
        'macOS (10.14 Mojave and later) lets any user bind ports below 1024 on all addresses (0.0.0.0), ' +
        'but not on a specific address such as 127.0.0.1: those need the helper',
    };
  }
  if (platform !== 'linux') {
    return { anyAddress: false, specificAddress: false, detail: `on ${platform}, ports below 1024 are assumed to need the helper` };
  }
  let start: number | undefined;
  let problem: string | undefined;
  try {
    const text = readRegularFile(sysctlPath, { maxBytes: 64, follow: true }).bytes.toString('utf8');
    if (/^\d{1,5}\n?$/.test(text)) start = Number(text.trim());
    else problem = `${sysctlPath} holds "${text.trim().slice(0, 20)}", not a port number`;
  } catch (error) {
    problem = `cannot read ${sysctlPath} (${unreadableReason(error)})`;
  }
  const setting = start === undefined ? undefined : `${SYSCTL_NAME} = ${start}`;
  // The sysctl is per-user policy; a process with CAP_NET_BIND_SERVICE (root) is not bound by it.
  if (hasNetBindCapability()) {
    const detail = `this process has CAP_NET_BIND_SERVICE, so it may bind any port${setting ? ` (${setting})` : ''}`;
    return { anyAddress: true, specificAddress: true, detail };
  }
  if (start === undefined) {
    return { anyAddress: false, specificAddress: false, detail: `${problem}: ports below 1024 are assumed to need the helper` };
  }
  // Linux applies one rule to every address: ports below the value need privilege.
  if (start <= 1) return { anyAddress: true, specificAddress: true, detail: `${setting}: any user may bind any port` };
  const below = Math.min(start, 1024);
  const rest = start < 1024 ? `; ${start} to 1023 bind directly` : '';
  return { anyAddress: false, specificAddress: false, detail: `${setting}: ports below ${below} need the helper${rest}` };
}

function hasNetBindCapability(): boolean {
  try {
    const match = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return match !== null && ((BigInt(`0x${match[1]}`) >> CAP_NET_BIND_SERVICE) & 1n) === 1n;
  } catch {
    return false;
  }
}

/**
 * Which tools are linked in the chosen location and point at this app; lstat +
 * readlink, never followed. A System link is healthy only while its program is
 * root's alone, checked on every report (the helper checked it when linking,
 * but a file can be chowned or chmodded since): root runs it too (`sudo
 * berth`). The User location's links run as the user only, so they are not judged.
 */
function cliTools(opts: GatherOptions, platform: NodeJS.Platform): Capabilities['cliTools'] {
  const location = opts.settings.cliToolsLocation;
  const dir = location === 'system' ? (opts.systemBinDir ?? SYSTEM_BIN_DIR) : (opts.userBinDir ?? userPaths({ platform }).userBinDir);
  const appPath =
    opts.appPath ?? readUserMode(opts.userModePath)?.appPath ?? recordedAppPath(opts.helperConfigPath ?? installLayout(platform).configPath);
  const linked: string[] = [];
  const missing: string[] = [];
  const unsafe: Capabilities['cliTools']['unsafe'] = [];
  for (const tool of CLI_TOOLS) {
    const target = appPath === undefined ? undefined : cliToolTarget(appPath, tool, platform);
    if (target === undefined || linkTarget(join(dir, tool)) !== target) {
      missing.push(tool);
      continue;
    }
    const reason = location === 'system' ? untrustedProgramReason(target) : undefined;
    if (reason === undefined) linked.push(tool);
    else {
      unsafe.push({
        name: tool,
        reason:
          `${join(dir, tool)} runs ${target}, but ${reason}: root runs it too (sudo ${tool}), so a user could run code as root. ` +
          `Make it root's alone again (reinstall Berth where only root can write), or choose the User location (~/.berth/bin)`,
      });
    }
  }
  return { location, dir, linked, missing, unsafe };
}

/** The app location the installer wrote into the helper's config: what the helper links the System tools to. */
function recordedAppPath(configPath: string): string | undefined {
  try {
    const config = JSON.parse(readRegularFile(configPath, { maxBytes: 64 * 1024 }).bytes.toString('utf8')) as { appPath?: unknown };
    return typeof config.appPath === 'string' && config.appPath.startsWith('/') ? config.appPath : undefined;
  } catch {
    return undefined; // not installed, or not readable: no link can be known to be ours
  }
}

function linkTarget(path: string): string | undefined {
  try {
    return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : undefined;
  } catch {
    return undefined;
  }
}

/** Berth's block in the hosts file; a malformed block or unreadable file is an error, not "absent". */
export function hostsEntries(hostsPath: string): Capabilities['hostsEntries'] {
  let content: Buffer;
  try {
    const read = readRegularFile(hostsPath, { maxBytes: MAX_HOSTS_BYTES, follow: true });
    if (read.truncated) return { present: false, entries: [], error: `${hostsPath} is larger than 64 MiB; it was not read` };
    content = read.bytes;
  } catch (error) {
    return { present: false, entries: [], error: `cannot read ${hostsPath}: ${unreadableReason(error)}` };
  }
  try {
    const present = blockLines(content, hostsPath) !== undefined;
    const entries = blockEntries(content, hostsPath).map((e) => `${e.address} ${e.name}`);
    return { present, entries, error: null };
  } catch (error) {
    return { present: false, entries: [], error: (error as Error).message };
  }
}
