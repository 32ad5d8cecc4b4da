import { BERTH_VERSION } from '../../../common/app-version';
import type { Capabilities } from '../../../common/api/capabilities';
import type { InstallLayout } from '../../../common/paths';
import type { Settings } from '../../../common/settings/schema';
import { HelperClient, HelperUnavailableError } from '../../helper-client';
import { gatherCapabilities } from './gather';
import { probeCacheFor, type HelperProbeCache } from './helper-probe-cache';

/**
 * The backend's capabilities report, kept current: gathered at each refresh
 * (the helper asked only when something changed, see HelperProbeCache), and
 * at once when the backend itself sees the helper come or go. A port bound
 * through a helper that was restarted shows the helper card 'running' before
 * the port shows, not up to a refresh later.
 */

/** Helper states in which a request can be served (an older helper still serves the same protocol). */
export const HELPER_USABLE: ReadonlySet<Capabilities['helper']['state']> = new Set(['running', 'needs-update']);

export interface TrackerOptions {
  layout: InstallLayout;
  appPath: string;
  userBinDir: string;
  hostsPath?: string;
  settings: () => Settings;
  policy: () => Capabilities['policy'];
  /** A new report is in; `back`: the helper just became 'running'. */
  onReport: (back: boolean) => void;
  /** One of our requests reached a helper the report had as unusable (then onReport came first). */
  onReached: () => void;
}

export class CapabilitiesTracker {
  /** The last report kept (undefined only before the first update). */
  current!: Capabilities;
  readonly probes: HelperProbeCache;
  /** Gathers started; only the latest one's report is kept, so a slow old one never overwrites a newer one. */
  private gathers = 0;

  constructor(private readonly options: TrackerOptions) {
    this.probes = probeCacheFor(options.layout);
  }

  /** Gathers a report and keeps it; true when the helper just became 'running'. */
  async update(askHelper = false): Promise<boolean> {
    const gather = ++this.gathers;
    const { layout, hostsPath, appPath, userBinDir } = this.options;
    const report = await gatherCapabilities({
      helperStatus: () => this.probes.status(askHelper),
      settings: this.options.settings(),
      helperSocketPath: layout.socketPath,
      userModePath: layout.userModePath,
      hostsPath,
      appPath,
      userBinDir,
      policy: this.options.policy(),
    });
    if (gather !== this.gathers) return false;
    const back = this.current?.helper.state !== 'running' && report.helper.state === 'running';
    this.current = report;
    this.options.onReport(back);
    return back;
  }

  /**
   * A connection to the helper when one is usable, else undefined (the callers
   * say what that means). Reaching it, or failing to, is news about the helper
   * that contradicts the report when the report says otherwise: the report is
   * gathered again now (and, on success, before the caller uses the helper).
   */
  async connect(): Promise<HelperClient | undefined> {
    const shown = this.current === undefined ? undefined : HELPER_USABLE.has(this.current.helper.state);
    try {
      const client = await HelperClient.connect(this.options.layout.socketPath, { clientName: `berth-app/${BERTH_VERSION}` });
      if (shown === false) {
        this.probes.invalidate();
        // Never at the cost of the request: a report that cannot be gathered is tried at the next refresh.
        await this.update().catch(() => undefined);
        this.options.onReached();
      }
      return client;
    } catch (error) {
      // A request that could not reach the helper: its status is asked again.
      this.probes.invalidate();
      if (shown === true) void this.update().catch(() => undefined);
      if (error instanceof HelperUnavailableError) return undefined;
      throw error;
    }
  }
}
