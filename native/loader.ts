/**
 * Finds and loads berth_native.node (once, lazily) and checks that it has
 * every function this version of the wrapper calls.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FileStat, OpenedDirectory, OpenFileMode } from './at';
import type { DatagramAddress, ReceivedDatagram } from './datagram';
import type { FileLimit, PeerCredentials, PollHandle, ReceivedMessage, SocketProtocol } from './index';
import type { PumpMapping, PumpReport, PumpStats, SocketAddress } from './pump';

type PollCallback = (error: Error | null, events: number) => void;

/** The raw addon. Its functions re-check every argument themselves. */
export interface NativeBinding {
  peerCredentials(fd: number): PeerCredentials;
  connectUnix(path: string): number;
  sendMessage(fd: number, data: Buffer, fds: readonly number[]): number;
  receiveMessage(fd: number, maxBytes: number, maxFds: number): ReceivedMessage | null;
  bindSocket(address: string, port: number, protocol: SocketProtocol, backlog: number): number;
  probeBind(address: string, port: number, protocol: SocketProtocol): boolean;
  pollStart(fd: number, events: number, callback: PollCallback): PollHandle;
  pollUpdate(handle: PollHandle, events: number): void;
  pollStop(handle: PollHandle): void;
  openDirectoryNoFollow(path: string): OpenedDirectory;
  statAt(dirfd: number, name: string): FileStat | null;
  readlinkAt(dirfd: number, name: string): string;
  symlinkAt(target: string, dirfd: number, name: string): void;
  renameAt(dirfd: number, from: string, to: string): void;
  unlinkAt(dirfd: number, name: string): void;
  openFileAt(dirfd: number, name: string, mode: OpenFileMode, permissions?: number): number;
  fsyncDirectory(dirfd: number): void;
  setHeapTrimThreshold(bytes: number): boolean;
  /** macOS: launch_activate_socket(3); elsewhere it throws ENOSYS. */
  launchActivateSocket(name: string): number[];
  openAddressWatch(): number;
  drainAddressWatch(fd: number): number;
  fileLimit(): FileLimit;
  raiseFileLimit(): FileLimit;
  datagramAddress(fd: number): DatagramAddress;
  receiveDatagram(fd: number, maxBytes: number): ReceivedDatagram | null;
  sendDatagram(fd: number, data: Buffer, to: Buffer): number;
  pumpOpen(connectTimeoutMs: number, onReport: PumpReport): PumpMapping;
  pumpAdd(mapping: PumpMapping, clientFd: number, address: string, port: number, otherAddress?: string): void;
  pumpClose(mapping: PumpMapping): void;
  pumpStats(mapping: PumpMapping): PumpStats;
  acceptConnections(fd: number, max: number): number[];
  resetSocket(fd: number): void;
  socketAddress(fd: number): SocketAddress;
}

export const ADDON_FILE = 'berth_native.node';
/** The no-follow file operations, listed once (the fuzz tests shape their arguments by this list). */
export const AT_FUNCTIONS = [
  'openDirectoryNoFollow',
  'statAt',
  'readlinkAt',
  'symlinkAt',
  'renameAt',
  'unlinkAt',
  'openFileAt',
  'fsyncDirectory',
] as const satisfies readonly (keyof NativeBinding)[];

/** Every function the addon must export; a build missing one is refused at load. */
export const BINDING_FUNCTIONS = [
  'peerCredentials',
  'connectUnix',
  'sendMessage',
  'receiveMessage',
  'bindSocket',
  'probeBind',
  'pollStart',
  'pollUpdate',
  'pollStop',
  'setHeapTrimThreshold',
  'launchActivateSocket',
  'openAddressWatch',
  'drainAddressWatch',
  'fileLimit',
  'raiseFileLimit',
  'datagramAddress',
  'receiveDatagram',
  'sendDatagram',
  'pumpOpen',
  'pumpAdd',
  'pumpClose',
  'pumpStats',
  'acceptConnections',
  'resetSocket',
  'socketAddress',
  ...AT_FUNCTIONS,
] as const satisfies readonly (keyof NativeBinding)[];

let binding: NativeBinding | undefined;

/**
 * Directory of this module. The bundles are CommonJS and Vitest defines
 * `__dirname` too; import.meta is avoided because esbuild empties it in
 * CommonJS output.
 */
function moduleDirectory(): string | undefined {
  return typeof __dirname === 'string' ? __dirname : undefined;
}

/**
 * True only inside a Node single executable application. `node:sea` exists
 * from Node 20.12; it is reached through process.getBuiltinModule (Node
 * 20.16+, and Electron), which works from CommonJS and ESM alike. Anything
 * missing means "not a SEA".
 */
export function isSingleExecutable(): boolean {
  try {
    const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
    if (typeof getBuiltin !== 'function') return false;
    const sea = getBuiltin.call(process, 'node:sea');
    if (typeof sea !== 'object' || sea === null || !('isSea' in sea)) return false;
    const isSea: unknown = sea.isSea;
    return typeof isSea === 'function' && isSea.call(sea) === true;
  } catch {
    return false;
  }
}

/**
 * Candidate paths, in order. Deliberately fixed: never influenced by the
 * environment, so the root helper cannot be made to load code from a path a
 * user chose.
 */
export function addonSearchPaths(): string[] {
  // A single executable ships its addon beside the binary and loads it from
  // there only (never a build/ folder, never a copy extracted to a temp dir):
  // it runs as root, and that directory adds no one who could not already
  // replace the binary itself.
  if (isSingleExecutable()) return [path.join(path.dirname(process.execPath), ADDON_FILE)];
  const dir = moduleDirectory();
  const candidates: string[] = [];
  if (dir !== undefined) {
    candidates.push(path.join(dir, ADDON_FILE), path.join(dir, 'build', 'Release', ADDON_FILE));
  }
  return candidates;
}

/** True when nothing exists at `file` (so the next candidate is tried). */
function isMissing(file: string): boolean {
  try {
    fs.statSync(file);
    return false;
  } catch (error) {
    const code: unknown = (error as { code?: unknown }).code;
    return code === 'ENOENT' || code === 'ENOTDIR';
  }
}

export function loadBinding(): NativeBinding {
  if (binding !== undefined) return binding;
  const tried = addonSearchPaths();
  for (const file of tried) {
    if (isMissing(file)) continue;
    const mod: { exports: unknown } = { exports: {} };
    // A present but broken addon throws here: it must not be skipped silently.
    process.dlopen(mod, file);
    const exported = mod.exports;
    if (typeof exported !== 'object' || exported === null) {
      throw new Error(`Berth native addon at ${file} has no exports`);
    }
    for (const name of BINDING_FUNCTIONS) {
      if (typeof (exported as Record<string, unknown>)[name] !== 'function') {
        throw new Error(`Berth native addon at ${file} lacks ${name}(); rebuild it with \`npm ci\``);
      }
    }
    binding = exported as NativeBinding;
    return binding;
  }
  if (isSingleExecutable()) {
    // An end user's install is incomplete: "npm ci" would be the wrong advice.
    throw new Error(`Berth native addon not found: ${tried.join(', ')} must sit beside this binary; reinstall Berth`);
  }
  throw new Error(`Berth native addon not found; run \`npm ci\` to build it (looked in: ${tried.join(', ')})`);
}
