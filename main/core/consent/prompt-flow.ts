import { ApiError, type BackendState, type PromptOutcome, type SettingChange } from '../../../common/api/backend-api';
import { helperUpdateKey, type Capabilities } from '../../../common/api/capabilities';
import { describeOutcome, type ElevationOutcome } from '../../install/elevate';
import { installHelperElevated, uninstallHelperElevated, type ElevatedHelperOptions } from '../../install/helper-install';
import { PROMPT_NOTICES, promptNotice } from '../backend-notices';
import type { Logger } from '../log';
import type { NoticeSpec } from '../notices';
import type { SettingsStore } from '../settings/store';
import { limitedModeCliTools } from '../system-settings';

/**
 * The questions Berth asks about its helper, and what each answer does: the
 * consent screen's choice ("Install helper" or "Not now — limited mode"),
 * the one administrator prompt (sudo-prompt or pkexec running the bundled
 * helper's installer) that installs or removes the helper, the update a
 * user declined, and limited mode, where the CLI tools move to the user's
 * own bin directory. The backend owns the store and the notices; this
 * decides what to change in them.
 */

/** The OS prompt, running the helper's installer as root. */
export interface Elevation {
  install(options: ElevatedHelperOptions): Promise<ElevationOutcome>;
  uninstall(options: ElevatedHelperOptions): Promise<ElevationOutcome>;
}

type PromptKind = 'install' | 'uninstall';

export interface PromptFlowHost {
  settings: Pick<SettingsStore, 'get' | 'set' | 'locked'>;
  /** The last capabilities report. */
  capabilities(): Capabilities;
  /** Carries out settings that changed (the backend's applySettings: reconcile, ports, refresh). */
  apply(keys: ReadonlyArray<SettingChange['key']>): Promise<unknown>;
  /** A fresh capabilities report; `askHelper` asks the helper itself. */
  refresh(askHelper: boolean): Promise<Capabilities>;
  /** Shows `notice` in place of the ones under `replacing`, and sends the state. */
  notify(notice: NoticeSpec | undefined, replacing: readonly string[]): void;
  /** Sends the state (the open prompt is part of it). */
  changed(): void;
  log: Logger;
  /** Where this Berth is installed: the installer the default prompt runs. */
  appPath: string;
  /** The OS prompt; default: pkexec (Linux) or sudo-prompt (macOS) running the bundled helper's installer. */
  elevation?: Elevation;
}

export class PromptFlow {
  private prompt: BackendState['prompt'] = null;
  private readonly elevation: Elevation;

  constructor(private readonly host: PromptFlowHost) {
    this.elevation = host.elevation ?? {
      install: (elevated) => installHelperElevated(host.appPath, undefined, elevated),
      uninstall: (elevated) => uninstallHelperElevated(undefined, elevated),
    };
  }

  /** The administrator prompt open now, if any (the state's `prompt`). */
  get open(): BackendState['prompt'] {
    return this.prompt;
  }

  async decideConsent(choice: 'install' | 'limited', elevated: ElevatedHelperOptions): Promise<PromptOutcome | null> {
    const { settings, log } = this.host;
    const before = settings.get().consent;
    if (choice === 'limited') {
      log.info('consent: limited mode');
      await this.enterLimitedMode();
      return null;
    }
    settings.set({ key: 'consent', value: choice });
    const outcome = await this.runPrompt('install', elevated);
    // Not asked at all (the helper's folder is not root's alone): the question stays open.
    if (outcome.kind === 'unsafe-location') settings.set({ key: 'consent', value: before });
    return outcome;
  }

  /** "Not now" to the helper update this app bundles: not asked again for this version. */
  declineUpdate(): void {
    this.host.settings.set({ key: 'helperUpdateAskedFor', value: helperUpdateKey(this.host.capabilities().helper) });
  }

  /** One OS prompt at a time; a refusal lands in limited mode with the reason, never a loop. */
  async runPrompt(kind: PromptKind, elevated: ElevatedHelperOptions): Promise<PromptOutcome> {
    const { settings, log } = this.host;
    if (this.prompt !== null) throw new ApiError('BUSY', 'an administrator prompt is already open; answer it first');
    if (kind === 'install' && this.host.capabilities().helper.state === 'user-mode') {
      throw new ApiError('CONFLICT', 'this machine is set up in user mode by an administrator; there is no helper to install');
    }
    this.prompt = kind;
    this.host.changed();
    let outcome: ElevationOutcome;
    try {
      outcome = await (kind === 'install' ? this.elevation.install(elevated) : this.elevation.uninstall(elevated));
    } finally {
      this.prompt = null;
    }
    const message = describeOutcome(outcome);
    log.info(`helper ${kind}: ${outcome.kind}`);
    if (outcome.kind === 'unsafe-location') {
      // No prompt was shown: nothing was answered, so nothing is recorded; the screens show the warning.
      this.host.changed();
      return { kind: outcome.kind, message };
    }
    if (kind === 'install') {
      // Asked (and answered) for this version: do not ask again at the next start.
      settings.set({ key: 'helperUpdateAskedFor', value: helperUpdateKey(this.host.capabilities().helper) });
      if (outcome.kind === 'approved') {
        settings.set({ key: 'consent', value: 'install' });
        // Carried out as a switch (wants told to the helper, a refused location set back); the reconciler's run waits behind it.
        await this.host.apply(['hostsEntries', 'cliToolsLocation']);
      } else await this.enterLimitedMode();
    }
    const after = await this.host.refresh(true);
    // This prompt's outcome replaces the last one's, as long as the helper stays as it left it (the helper card says the mode).
    this.host.notify(promptNotice(kind, outcome, after.helper), [PROMPT_NOTICES]);
    return { kind: outcome.kind, message };
  }

  /** Limited mode keeps the consent screen's word: without a helper, the CLI tools go in the user's bin directory. */
  private async enterLimitedMode(): Promise<void> {
    const { settings } = this.host;
    settings.set({ key: 'consent', value: 'limited' });
    const change = limitedModeCliTools(settings.get(), settings.locked(), this.host.capabilities().helper.state);
    if (change === null) return;
    settings.set(change);
    await this.host.apply([change.key]);
  }
}
