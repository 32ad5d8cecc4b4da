import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

/**
 * Notices when the helper may be back (its socket appeared, e.g. after a
 * restart or an install) so mappings waiting for it are re-bound without
 * the user doing anything.
 *
 * Cheap by design: one inotify/kqueue watch on the socket's directory, and
 * a slow poll as the fallback for what a watch cannot see (the directory
 * does not exist yet, or the file system does not report changes). Nothing
 * runs while nothing waits: the publisher starts and stops it.
 */

export interface HelperWatchOptions {
  /** The fallback poll's period. */
  pollMs?: number;
  /**
   * After the socket file appears, check again after these delays: the
   * helper creates the file at bind(2) and accepts only after listen(2),
   * and no second file event comes when it does.
   */
  settleMs?: readonly number[];
}

const DEFAULT_POLL_MS = 5_000;
const DEFAULT_SETTLE_MS = [50, 250, 1_000] as const;

export class HelperWatch {
  private watcher: FSWatcher | undefined;
  private poller: NodeJS.Timeout | undefined;
  private readonly settleTimers = new Set<NodeJS.Timeout>();
  private readonly dir: string;
  private readonly name: string;
  private readonly pollMs: number;
  private readonly settleMs: readonly number[];

  constructor(
    socketPath: string,
    private readonly onMaybeBack: () => void,
    options: HelperWatchOptions = {},
  ) {
    this.dir = dirname(socketPath);
    this.name = basename(socketPath);
    this.pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  }

  get running(): boolean {
    return this.poller !== undefined;
  }

  /** Idempotent. */
  start(): void {
    if (this.poller) return;
    this.poller = setInterval(() => {
      // The directory may have appeared since (an install creates it): watch it from now on.
      this.ensureWatch();
      this.onMaybeBack();
    }, this.pollMs);
    this.poller.unref();
    this.ensureWatch();
  }

  /** Idempotent. */
  stop(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
    this.watcher?.close();
    this.watcher = undefined;
    for (const timer of this.settleTimers) clearTimeout(timer);
    this.settleTimers.clear();
  }

  private ensureWatch(): void {
    if (this.watcher) return;
    try {
      const watcher = watch(this.dir, { persistent: false }, (_event, filename) => {
        // Some platforms do not say which file changed: then any change counts.
        if (filename === null || filename === this.name) this.socketChanged();
      });
      // The directory was removed (an uninstall): fall back to the poll, which re-creates the watch.
      watcher.on('error', () => {
        watcher.close();
        if (this.watcher === watcher) this.watcher = undefined;
      });
      this.watcher = watcher;
    } catch {
      // No directory yet (helper never installed): the poll covers it.
    }
  }

  private socketChanged(): void {
    for (const timer of this.settleTimers) clearTimeout(timer);
    this.settleTimers.clear();
    this.onMaybeBack();
    for (const delay of this.settleMs) {
      const timer = setTimeout(() => {
        this.settleTimers.delete(timer);
        this.onMaybeBack();
      }, delay);
      timer.unref();
      this.settleTimers.add(timer);
    }
  }
}
