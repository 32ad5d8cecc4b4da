import type { SettingChange } from '../../common/api/backend-api';
import type { Capabilities } from '../../common/api/capabilities';
import type { Settings } from '../../common/settings/schema';
import type { HelperClient } from '../helper-client';
import { HELPER_USABLE } from './capabilities/tracker';
import type { Logger } from './log';
import { applySystemSettings, type ApplyReport, type LoginItem } from './system-settings';

/**
 * Desired state, carried out whenever it becomes possible. The settings say
 * what the machine should have (hosts entries, the CLI tools' location); the
 * capabilities report says what it has. The reconciler compares the two and
 * applies only the difference: when the helper becomes reachable however it
 * got there (the app's prompt, an admin or MDM install, a restart), when a
 * setting changes, when the policy changes. The backend asks for a run after
 * every refresh, so a difference the helper can close is closed within one.
 *
 * - One run at a time; runs asked for meanwhile are one more run (coalesced).
 * - Never a loop: each attempt is remembered with what it saw (the wanted
 *   value, the machine's state, the helper's state and how often it was
 *   asked). The same difference under the same circumstances is not tried
 *   again, so a refusal is reported once; it is tried again only when
 *   something changes (the helper restarts or is updated, the user presses
 *   Refresh, the setting or the machine changes).
 * - The "it will apply when the helper is installed" sentence is withdrawn
 *   once that has happened: the difference is shown only while it exists.
 */

type ReconciledKey = 'hostsEntries' | 'cliToolsLocation';
type SettingKey = SettingChange['key'];

export interface ReconcileHost {
  settings(): Settings;
  /** Sets a setting to what is in force (a refused CLI location); throws when the policy locks it. */
  set(change: SettingChange): void;
  /** The last capabilities report. */
  capabilities(): Capabilities;
  /** A fresh report (the helper's status from the probe cache); the host keeps it as the last one. */
  observe(): Promise<Capabilities>;
  helper(): Promise<HelperClient | undefined>;
  /** How many times the helper was asked for its status: a new answer is a change worth one more try. */
  helperGeneration(): number;
  /** What applying `keys` could not do (notices, one per setting): replaces the last report about them. */
  report(keys: readonly SettingKey[], report: ApplyReport): void;
  /** Takes back the "will apply when the helper is installed" notice about `key`: it is no longer true. */
  withdraw(key: ReconciledKey): void;
  log: Logger;
  appPath: string;
  userBinDir: string;
  loginItem?: LoginItem;
}


/** One difference between the settings and the machine. */
interface Difference {
  key: ReconciledKey;
  /** Needs the helper to close it. */
  helper: boolean;
  /** What was wanted and seen, and the helper as it was: the same signature is the same attempt. */
  signature: string;
}

/**
 * What differs, read from the capabilities report (never from the helper
 * itself: asking would wake an idle helper at every refresh). A hosts file
 * that cannot be read is not judged: the report already says why.
 */
export function differences(settings: Settings, caps: Capabilities, helperGeneration: number): Difference[] {
  const helper = `${caps.helper.state}:${caps.helper.version ?? ''}:${helperGeneration}`;
  const found: Difference[] = [];
  const hosts = caps.hostsEntries;
  if (hosts.error === null && hosts.present !== settings.hostsEntries) {
    found.push({ key: 'hostsEntries', helper: true, signature: JSON.stringify([settings.hostsEntries, hosts.present, helper]) });
  }
  const tools = caps.cliTools;
  // A report made under the other location says nothing about this one (the caller observes afresh).
  if (tools.location === settings.cliToolsLocation && tools.missing.length > 0) {
    const system = settings.cliToolsLocation === 'system';
    found.push({ key: 'cliToolsLocation', helper: system, signature: JSON.stringify([tools.location, tools.missing, system ? helper : '']) });
  }
  return found;
}

export class Reconciler {
  /** The chain every run and apply waits its turn on. */
  private tail: Promise<unknown> = Promise.resolve();
  /** A run asked for and not begun yet: further asks share it. */
  private queued: Promise<void> | undefined;
  /** The last attempt at each difference (its signature, as seen after the attempt). */
  private readonly tried = new Map<ReconciledKey, string>();
  /** "Saved, but it will apply when the helper is installed", per setting, until it applies. */
  private readonly waiting = new Set<ReconciledKey>();
  private closed = false;
  /** Attempts made (for tests and logs). */
  attempts = 0;

  constructor(private readonly host: ReconcileHost) {}

  /** Brings the machine to what the settings say, where it differs and the difference can be closed now. */
  run(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.queued !== undefined) return this.queued;
    const run = this.tail.then(async () => {
      this.queued = undefined;
      if (this.closed) return;
      try {
        await this.reconcileOnce();
      } catch (error) {
        this.host.log.warn(`reconciling the settings failed: ${(error as Error).message}`);
      }
    });
    this.queued = run;
    this.tail = run;
    return run;
  }

  /**
   * Carries out settings that just changed (the user's switch, a policy's
   * lock), whatever the machine shows: the helper counts each account's
   * wants, so an "on" is told to it even where the block is there already.
   * Problems become notices; a CLI location the machine refused is set back
   * to the one in force, and its reason returned.
   */
  apply(keys: readonly SettingKey[]): Promise<string | undefined> {
    const task = this.tail.then(() => this.applyOnce(keys, true));
    this.tail = task.catch(() => undefined);
    return task;
  }

  close(): void {
    this.closed = true;
  }

  private async reconcileOnce(): Promise<void> {
    let caps = this.host.capabilities();
    if (caps.cliTools.location !== this.host.settings().cliToolsLocation) caps = await this.host.observe();
    const found = differences(this.host.settings(), caps, this.host.helperGeneration());
    this.settled(found);
    const usable = HELPER_USABLE.has(caps.helper.state);
    // Waiting for the helper is no attempt: it is tried when the helper is usable.
    const due = found.filter((d) => (!d.helper || usable) && this.tried.get(d.key) !== d.signature);
    if (due.length === 0) return;
    const keys = due.map((d) => d.key);
    this.host.log.info(`reconciling ${keys.join(', ')}: the machine differs from the settings`);
    await this.applyOnce(keys, false);
  }

  /**
   * `switched`: the user (or a policy) just chose this value. Only then is a refused CLI
   * location set back to the one in force; a run of the reconciler reports the refusal
   * and leaves the user's choice as it is (a file in the way is no reason to change it).
   */
  private async applyOnce(keys: readonly SettingKey[], switched: boolean): Promise<string | undefined> {
    this.attempts++;
    const reconciled = keys.filter((k): k is ReconciledKey => k === 'hostsEntries' || k === 'cliToolsLocation');
    // A sentence about the setting as it was is no longer true once it is carried out again.
    for (const key of reconciled) this.unwait(key);
    const settings = this.host.settings();
    const report = await applySystemSettings({
      keys,
      settings,
      helper: () => this.host.helper(),
      appPath: this.host.appPath,
      userBinDir: this.host.userBinDir,
      loginItem: this.host.loginItem,
    });
    for (const problem of report.problems) {
      const waits = reconciled.find((key) => problem.needsHelper === true && problem.setting === key);
      if (waits !== undefined) this.waiting.add(waits);
    }
    if (report.refused !== undefined && switched) {
      try {
        this.host.set({ key: 'cliToolsLocation', value: report.refused.cliToolsLocation });
      } catch (error) {
        // Locked by policy to the refused location: the setting stays; the notice says what is in force.
        this.host.log.warn(`could not set cliToolsLocation back: ${(error as Error).message}`);
      }
    }
    this.host.report(keys, report);
    // Remembered as the machine is now: the next run finds the same difference and leaves it be.
    const after = differences(this.host.settings(), await this.host.observe(), this.host.helperGeneration());
    for (const key of reconciled) {
      const left = after.find((d) => d.key === key);
      if (left === undefined) this.tried.delete(key);
      else this.tried.set(key, left.signature);
    }
    this.settled(after);
    return report.refused?.reason;
  }

  /** Differences that are gone: forgotten, and their "will apply" sentence withdrawn. */
  private settled(found: readonly Difference[]): void {
    for (const key of ['hostsEntries', 'cliToolsLocation'] as const) {
      if (found.some((d) => d.key === key)) continue;
      this.tried.delete(key);
      this.unwait(key);
    }
  }

  private unwait(key: ReconciledKey): void {
    if (!this.waiting.delete(key)) return;
    this.host.withdraw(key);
  }
}
