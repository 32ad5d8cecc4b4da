import { lstatSync, readFileSync } from 'node:fs';
import { BERTH_VERSION } from '../../../common/app-version';
import { errnoCode } from '../../../common/errno';
import { join } from 'node:path';
import { INSTALL_RECORD_NAME } from '../../../common/install-record';
import { INSTALL_MARKER_NAME } from '../../../common/install-marker';
import type { InstallLayout } from '../../../common/paths';
import type { HelperStatus } from '../helper-status';
import { probeInstalledHelper } from '../installed-helper';
import { helperBuildsAt } from '../../install/helper-build';

/**
 * The helper's last known status, asked again only when something it
 * depends on changed. Asking means connecting and saying hello, which
 * starts a socket-activated helper that had exited for idleness: a refresh
 * every 10 s that asked every time would keep it resident for ever. What
 * is looked at instead costs no connection:
 * - the socket file (which inode, owner, mode): an install, an upgrade, a
 *   stop or a start of the socket replaces or removes it;
 * - on Linux, whether anything listens on it (/proc/net/unix): a standalone
 *   helper killed with its supervisor leaves the file behind;
 * - the config, the user-mode record, the install record and the marker an
 *   install under way leaves (which inode, size, times): install, upgrade,
 *   uninstall and user mode rewrite them;
 * - the bundled version (an updated app).
 * It is also asked again when the caller says so (the user's Refresh, a
 * request to the helper that failed) and, for an 'error', after a minute:
 * errors may pass by themselves.
 */
export interface ProbeCacheOptions {
  probe: () => Promise<HelperStatus>;
  socketPath: string;
  /** Files whose change means the install changed (config, user-mode record, install record). */
  installFiles: readonly string[];
  /** Linux's table of UNIX sockets; default /proc/net/unix, undefined elsewhere. */
  unixSocketTable?: string;
  now?: () => number;
}

const ERROR_TTL_MS = 60_000;
/** __SO_ACCEPTCON in /proc/net/unix's Flags column: the socket listens. */
const ACCEPTCON = 0x10000;

/** Which file is at `path` now, without opening it (lstat: a symlink is described, not followed). */
function identity(path: string): string {
  try {
    const st = lstatSync(path);
    return `${st.dev}:${st.ino}:${st.mode}:${st.uid}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch (error) {
    return `absent:${errnoCode(error) ?? 'error'}`;
  }
}

/** Whether a socket bound at `path` listens, from the kernel's table; undefined when the table cannot be read. */
export function listensAt(path: string, table: string): boolean | undefined {
  let text: string;
  try {
    text = readFileSync(table, 'latin1');
  } catch {
    return undefined;
  }
  // "Num: RefCount Protocol Flags Type St Inode Path"; the path is the rest of the line (it may hold spaces).
  for (const line of text.split('\n')) {
    const match = /^\s*[0-9A-Fa-f]+: [0-9A-Fa-f]+ [0-9A-Fa-f]+ ([0-9A-Fa-f]+) [0-9A-Fa-f]+ [0-9A-Fa-f]+ +\d+ (.+)$/.exec(line);
    if (match !== null && match[2] === path && (Number.parseInt(match[1]!, 16) & ACCEPTCON) !== 0) return true;
  }
  return false;
}

export class HelperProbeCache {
  private last: { fingerprint: string; status: HelperStatus; at: number } | undefined;
  private pending: { promise: Promise<HelperStatus>; epoch: number } | undefined;
  private stale = false;
  /** Bumped by invalidate(): a probe begun before it may have seen the helper as it was, so it is not shared or kept. */
  private epoch = 0;
  private readonly now: () => number;
  private readonly table: string | undefined;
  /** How many times the helper was actually asked (for tests and the benchmark). */
  probes = 0;

  constructor(private readonly options: ProbeCacheOptions) {
    this.now = options.now ?? Date.now;
    this.table = 'unixSocketTable' in options ? options.unixSocketTable : process.platform === 'linux' ? '/proc/net/unix' : undefined;
  }

  /** The next status() asks the helper (a request to it just failed). */
  invalidate(): void {
    this.stale = true;
    this.epoch++;
  }

  /** The helper's status: the last one while nothing changed, else asked afresh; `force` always asks. */
  async status(force = false): Promise<HelperStatus> {
    const fingerprint = this.fingerprint();
    const last = this.last;
    const fresh =
      last !== undefined &&
      !force &&
      !this.stale &&
      last.fingerprint === fingerprint &&
      (last.status.state !== 'error' || this.now() - last.at < ERROR_TTL_MS);
    if (fresh) return last.status;
    // Two refreshes at once share one probe, unless it began before an invalidate(): the helper
    // may have come or gone since (a request just reached it, or failed), so it is asked again.
    if (this.pending === undefined || this.pending.epoch !== this.epoch) {
      const pending = { epoch: this.epoch, promise: this.ask(fingerprint, this.epoch) };
      this.pending = pending;
      void pending.promise.finally(() => {
        if (this.pending === pending) this.pending = undefined;
      }).catch(() => {});
    }
    return this.pending.promise;
  }

  private async ask(fingerprint: string, epoch: number): Promise<HelperStatus> {
    this.stale = false;
    this.probes++;
    const status = await this.options.probe();
    // Taken before the probe: whatever changes while it runs is seen at the next status().
    // An answer overtaken by an invalidate() is returned to its callers but not kept.
    if (epoch === this.epoch) this.last = { fingerprint, status, at: this.now() };
    return status;
  }

  private fingerprint(): string {
    const { socketPath, installFiles } = this.options;
    const listening = this.table === undefined ? 'n/a' : String(listensAt(socketPath, this.table));
    return [BERTH_VERSION, identity(socketPath), listening, ...installFiles.map(identity)].join('|');
  }
}

/** The backend's cache for the installed helper (or the one at layout.socketPath). */
export function probeCacheFor(layout: InstallLayout): HelperProbeCache {
  const { socketPath, userModePath, configPath, stateDir } = layout;
  return new HelperProbeCache({
    // With the digests: a rebuilt helper of the same version is an update in the app too, not only in the CLI.
    probe: () => probeInstalledHelper({ socketPath, userModePath, configPath, stateDir, defaultSocketPath: socketPath, builds: helperBuildsAt(stateDir) }),
    socketPath,
    // The install marker too: an update that starts or ends changes what the status says.
    installFiles: [configPath, userModePath, join(stateDir, INSTALL_RECORD_NAME), join(stateDir, INSTALL_MARKER_NAME)],
  });
}
