import {
  type ApiResult,
  type BackendState,
  type DiagnosticsState,
  type Notice,
  type PromptOutcome,
  ApiError,
} from '../../common/api/backend-api';
import { helperUpdateKey, type Capabilities } from '../../common/api/capabilities';
import { BERTH_VERSION } from '../../common/app-version';
import type { InstallLayout } from '../../common/paths';
import type { SettingChange } from '../../common/api/backend-api';
import type { UserPaths } from '../../common/user-paths';
import { HelperClient, HelperUnavailableError } from '../helper-client';
import { describeOutcome, type ElevationOutcome } from '../install/elevate';
import { installHelperElevated, uninstallHelperElevated, type ElevatedHelperOptions } from '../install/helper-install';
import { readAuditTail } from './audit-tail';
import { dispatch, type ApiHandlers, type ApiHost, type CallReply } from './api/dispatch';
import { gatherCapabilities } from './capabilities/gather';
import { createDiagnosticsArchive } from './diagnostics/archive';
import type { Logger } from './log';
import { policyLocks, policyPortRules, policySource, readAppPolicy } from './policy/app-policy';
import { refreshPolicyFromConfig } from './policy/refresh-from-config';
import { probeCacheFor, type HelperProbeCache } from './capabilities/helper-probe-cache';
import { PortPublisher } from './ports/publisher';
import { SettingsStore } from './settings/store';
import { applySystemSettings, type LoginItem } from './system-settings';
import { loginItemState, refuseUnavailableLoginItem } from './login-item';

/**
 * The backend: the one store the app shows, and the one place commands run.
 * Electron-free; the Electron main process, the browser mode and the CLI's
 * control socket all drive this same object through `ApiHost`.
 */

export interface Elevation {
  install(options: ElevatedHelperOptions): Promise<ElevationOutcome>;
  uninstall(options: ElevatedHelperOptions): Promise<ElevationOutcome>;
}

export interface BackendOptions {
  paths: UserPaths;
  layout: InstallLayout;
  /** Where this Berth is installed: the helper's `--app`, and the CLI tools' link target. */
  appPath: string;
  log: Logger;
  hostsPath?: string;
  /** Start at login: the Electron glue (or XDG autostart in browser mode). */
  loginItem?: LoginItem;
  /** The OS prompt; default: pkexec (Linux) or sudo-prompt (macOS) running the bundled helper's installer. */
  elevation?: Elevation;
  /** How often to re-read what the machine allows (helper up/down, policy). */
  refreshIntervalMs?: number;
  /** The app asked to quit (tray "Quit"). */
  onQuit?: () => void;
  /** The app asked to show the settings window. */
  onOpenSettings?: () => void;
  /** Browser mode: a new single-use link to the window (`app.windowLink`). */
  windowLink?: () => string | undefined;
}

const IDLE_DIAGNOSTICS: DiagnosticsState = { state: 'idle', step: null, progress: 0, path: null, error: null };
/** The archive includes a privileged trace this long, when the helper runs. */
const TRACE_SECONDS = 3;
/** Re-fetch the organization policy this often (admins renew by publishing a new version). */
const POLICY_REFRESH_MS = 6 * 60 * 60 * 1000;

export class Backend implements ApiHost {
  private capabilities!: Capabilities;
  private notices: Notice[] = [];
  private diagnostics: DiagnosticsState = IDLE_DIAGNOSTICS;
  private prompt: BackendState['prompt'] = null;
  private readonly listeners = new Set<(state: BackendState) => void>();
  private lastSent = '';
  private emitQueued = false;
  private timers: NodeJS.Timeout[] = [];
  private noticeSeq = 0;
  private readonly settings: SettingsStore;
  private publisher!: PortPublisher;
  private policy: Capabilities['policy'];
  private readonly handlers: ApiHandlers;
  private readonly elevation: Elevation;
  /** The helper's status between refreshes: asked again only when something changed (see HelperProbeCache). */
  private readonly probes: HelperProbeCache;

  private constructor(private readonly options: BackendOptions) {
    this.policy = readAppPolicy(this.options.layout);
    const opened = SettingsStore.open({
      path: options.paths.settingsPath,
      locked: () => policyLocks(this.policy),
      lockedBy: () => policySource(this.policy),
    });
    this.settings = opened.store;
    if (opened.notice !== undefined) this.notify('warning', opened.notice);
    this.settings.onChange(() => this.changed());
    this.elevation = options.elevation ?? {
      install: (elevated) => installHelperElevated(options.appPath, undefined, elevated),
      uninstall: (elevated) => uninstallHelperElevated(undefined, elevated),
    };
    this.handlers = this.makeHandlers();
    this.probes = probeCacheFor(options.layout);
  }

  static async start(options: BackendOptions): Promise<Backend> {
    const backend = new Backend(options);
    backend.capabilities = await backend.gather();
    const opened = await PortPublisher.open({
      mappingsPath: options.paths.mappingsPath,
      helper: () => backend.connectHelper(),
      privilegedPortMapping: () => backend.settings.get().privilegedPortMapping,
      userMode: () => backend.capabilities.userMode !== null,
      privilegedPortMappingLockedBy: () =>
        policyLocks(backend.policy).privilegedPortMapping === false ? (policySource(backend.policy) ?? 'your organization') : null,
      portRules: () => policyPortRules(backend.policy),
      helperDiagnosis: async () => (await backend.probes.status(true)).diagnosis,
      onChange: () => backend.changed(),
      helperSocketPath: options.layout.socketPath,
    });
    backend.publisher = opened.publisher;
    if (opened.notice !== undefined) backend.notify('warning', opened.notice);
    const every = options.refreshIntervalMs ?? 10_000;
    backend.timers.push(setInterval(() => void backend.refresh(), every).unref());
    backend.timers.push(setInterval(() => void backend.fetchPolicy(), POLICY_REFRESH_MS).unref());
    void backend.fetchPolicy();
    options.log.info(`backend ${BERTH_VERSION} started; helper ${backend.capabilities.helper.state}`);
    return backend;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.listeners.clear();
    await this.publisher?.close();
  }

  // ApiHost: every transport calls through here.
  call(method: unknown, params: unknown): Promise<CallReply> {
    return dispatch(this.handlers, method, params);
  }

  state(): BackendState {
    return {
      capabilities: this.capabilities,
      settings: this.settings.get(),
      locked: this.settings.locked(),
      ports: this.publisher.list(),
      diagnostics: this.diagnostics,
      notices: this.notices,
      prompt: this.prompt,
      startAtLogin: loginItemState(this.options.loginItem),
    };
  }

  subscribe(listener: (state: BackendState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Re-reads what the machine allows; ports waiting for the helper are retried
   * when it is back. The helper itself is asked only when something changed,
   * or with `askHelper` (the user's Refresh, an install): see HelperProbeCache.
   */
  async refresh(askHelper = false): Promise<Capabilities> {
    this.policy = readAppPolicy(this.options.layout);
    // A new or lifted policy changes the effective settings: apply what it changed.
    const relocked = this.settings.reevaluateLocks();
    if (relocked.length > 0) {
      this.applySettings(relocked).catch((error: unknown) => this.options.log.warn(`applying the policy's settings failed: ${(error as Error).message}`));
    }
    const before = this.capabilities?.helper.state;
    this.capabilities = await this.gather(askHelper);
    if (before !== 'running' && this.capabilities.helper.state === 'running') await this.publisher?.retryWaiting();
    this.changed();
    return this.capabilities;
  }

  private makeHandlers(): ApiHandlers {
    return {
      'state.get': async () => this.state(),
      'capabilities.refresh': () => this.refresh(true),
      'ports.add': async (spec) => {
        const status = await this.publisher.add(spec);
        this.options.log.info(`published ${status.id} -> ${spec.target.host}:${spec.target.port} (${status.via ?? status.state})`);
        return status;
      },
      'ports.remove': async (key) => {
        await this.publisher.remove(key);
        this.options.log.info(`removed ${key.address}:${key.port}`);
        return { removed: true as const };
      },
      'settings.set': (change) => this.setSetting(change),
      'consent.decide': (params) => this.decideConsent(params.choice, { allowUnsafeLocation: params.allowUnsafeLocation === true }),
      'helper.install': (params) => this.runPrompt('install', { allowUnsafeLocation: params.allowUnsafeLocation === true }),
      'helper.uninstall': (params) => this.runPrompt('uninstall', { allowUnsafeLocation: params.allowUnsafeLocation === true }),
      'helper.declineUpdate': async () => {
        this.settings.set({ key: 'helperUpdateAskedFor', value: helperUpdateKey(this.capabilities.helper) });
        return { ok: true as const };
      },
      diagnose: () => this.diagnose(),
      'audit.tail': async (params) => readAuditTail(this.options.layout.auditLogPath, params.lines),
      'app.quit': async () => {
        // After the reply is sent: the caller hears "ok" before the app goes.
        setImmediate(() => this.options.onQuit?.());
        return { ok: true as const };
      },
      'app.openSettings': async () => {
        if (this.options.onOpenSettings === undefined) return { opened: false };
        this.options.onOpenSettings();
        return { opened: true };
      },
      'app.windowLink': async () => ({ url: this.options.windowLink?.() ?? null }),
      'notices.dismiss': async ({ id }) => {
        this.notices = this.notices.filter((n) => n.id !== id);
        this.changed();
        return { ok: true as const };
      },
    };
  }

  private async setSetting(change: SettingChange): Promise<ApiResult<'settings.set'>> {
    refuseUnavailableLoginItem(this.options.loginItem, change);
    const previous = this.settings.get();
    const settings = this.settings.set(change);
    if (previous[change.key] !== settings[change.key]) {
      this.options.log.info(`setting ${change.key} = ${JSON.stringify(change.value)}`);
      const refused = await this.applySettings([change.key]);
      // The change did not happen on the machine: the caller (CLI, window) is told it failed, not "set".
      if (refused !== undefined) throw new ApiError('FAILED', refused);
    }
    return this.settings.get();
  }

  /**
   * Makes the machine match the settings that reach outside the app; a failure
   * is a notice, never a lost setting. A CLI location the machine refused is
   * set back to the location still in force (so every screen shows the truth),
   * and its reason is returned.
   */
  private async applySettings(keys: ReadonlyArray<SettingChange['key']>): Promise<string | undefined> {
    const report = await applySystemSettings({
      keys,
      settings: this.settings.get(),
      helper: () => this.connectHelper(),
      appPath: this.options.appPath,
      userBinDir: this.options.paths.userBinDir,
      loginItem: this.options.loginItem,
    });
    for (const problem of report.problems) this.notify('warning', problem);
    if (report.refused !== undefined) {
      try {
        this.settings.set({ key: 'cliToolsLocation', value: report.refused.cliToolsLocation });
      } catch (error) {
        // Locked by policy to the refused location: the setting stays; the notice says what is in force.
        this.options.log.warn(`could not set cliToolsLocation back: ${(error as Error).message}`);
      }
      this.notify('error', report.refused.reason);
    }
    if (keys.includes('privilegedPortMapping')) await this.publisher?.privilegedSettingChanged();
    await this.refresh();
    return report.refused?.reason;
  }

  private async decideConsent(choice: 'install' | 'limited', elevated: ElevatedHelperOptions): Promise<PromptOutcome | null> {
    const before = this.settings.get().consent;
    this.settings.set({ key: 'consent', value: choice });
    if (choice === 'limited') {
      this.options.log.info('consent: limited mode');
      return null;
    }
    const outcome = await this.runPrompt('install', elevated);
    // Not asked at all (the helper's folder is not root's alone): the question stays open.
    if (outcome.kind === 'unsafe-location') this.settings.set({ key: 'consent', value: before });
    return outcome;
  }

  /** One OS prompt at a time; a refusal lands in limited mode with the reason, never a loop. */
  private async runPrompt(kind: 'install' | 'uninstall', elevated: ElevatedHelperOptions): Promise<PromptOutcome> {
    if (this.prompt !== null) throw new ApiError('BUSY', 'an administrator prompt is already open; answer it first');
    if (kind === 'install' && this.capabilities.helper.state === 'user-mode') {
      throw new ApiError('CONFLICT', 'this machine is set up in user mode by an administrator; there is no helper to install');
    }
    this.prompt = kind;
    this.changed();
    let outcome: ElevationOutcome;
    try {
      outcome = await (kind === 'install' ? this.elevation.install(elevated) : this.elevation.uninstall(elevated));
    } finally {
      this.prompt = null;
    }
    const message = describeOutcome(outcome);
    this.options.log.info(`helper ${kind}: ${outcome.kind}`);
    if (outcome.kind === 'unsafe-location') {
      // No prompt was shown: nothing was answered, so nothing is recorded; the screens show the warning.
      this.changed();
      return { kind: outcome.kind, message };
    }
    if (kind === 'install') {
      // Asked (and answered) for this version: do not ask again at the next start.
      this.settings.set({ key: 'helperUpdateAskedFor', value: helperUpdateKey(this.capabilities.helper) });
      if (outcome.kind === 'approved') {
        this.settings.set({ key: 'consent', value: 'install' });
        await this.refresh(true);
        await this.applySettings(['hostsEntries', 'cliToolsLocation']);
      } else {
        this.settings.set({ key: 'consent', value: 'limited' });
        this.notify('warning', `The helper was not installed, so Berth runs in limited mode. ${message}`);
      }
    } else if (outcome.kind !== 'approved') {
      this.notify('warning', `The helper was not uninstalled. ${message}`);
    }
    const after = await this.refresh(true);
    // Other accounts on this machine still use the helper: only this account's enrolment went.
    if (kind === 'uninstall' && outcome.kind === 'approved' && after.helper.state === 'not-enrolled') {
      this.notify('info', 'The helper no longer serves your account. It stays installed for the other accounts on this computer.');
    }
    return { kind: outcome.kind, message };
  }

  private async diagnose(): Promise<ApiResult<'diagnose'>> {
    if (this.diagnostics.state === 'running') throw new ApiError('BUSY', 'diagnostics are already being gathered');
    this.diagnostics = { state: 'running', step: 'starting', progress: 0, path: null, error: null };
    this.changed();
    try {
      const result = await createDiagnosticsArchive({
        outDir: this.options.paths.diagnosticsDir,
        capabilities: await this.refresh(true),
        settingsPath: this.options.paths.settingsPath,
        mappingsPath: this.options.paths.mappingsPath,
        appLogDir: this.options.paths.logDir,
        helper: () => this.connectHelper(),
        traceSeconds: TRACE_SECONDS,
        layout: this.options.layout,
        hostsPath: this.options.hostsPath,
        onProgress: ({ step, progress }) => {
          this.diagnostics = { ...this.diagnostics, step, progress };
          this.changed();
        },
      });
      this.diagnostics = { state: 'done', step: null, progress: 1, path: result.path, error: null };
      this.options.log.info(`diagnostics written to ${result.path}`);
      return { path: result.path };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.diagnostics = { state: 'failed', step: null, progress: 0, path: null, error: message };
      throw new ApiError('FAILED', `diagnostics could not be written: ${message}`);
    } finally {
      this.changed();
    }
  }

  /** The admin-set policy URL, fetched and handed to the helper; failures are logged, the cached policy stays. */
  private async fetchPolicy(): Promise<void> {
    const { configPath, stateDir } = this.options.layout;
    if (await refreshPolicyFromConfig({ configPath, stateDir, connect: () => this.connectHelper(), log: this.options.log })) await this.refresh();
  }

  /** A connection to the helper when one is usable, else undefined (the callers say what that means). */
  private async connectHelper(): Promise<HelperClient | undefined> {
    try {
      return await HelperClient.connect(this.options.layout.socketPath, { clientName: `berth-app/${BERTH_VERSION}` });
    } catch (error) {
      // A request that could not reach the helper: its status is asked again at the next refresh.
      this.probes.invalidate();
      if (error instanceof HelperUnavailableError) return undefined;
      throw error;
    }
  }

  private gather(askHelper = false): Promise<Capabilities> {
    return gatherCapabilities({
      helperStatus: () => this.probes.status(askHelper),
      settings: this.settings.get(),
      helperSocketPath: this.options.layout.socketPath,
      userModePath: this.options.layout.userModePath,
      hostsPath: this.options.hostsPath,
      appPath: this.options.appPath,
      userBinDir: this.options.paths.userBinDir,
      policy: this.policy,
    });
  }

  private notify(level: Notice['level'], text: string): void {
    this.options.log.warn(text);
    this.notices = [...this.notices, { id: `n${++this.noticeSeq}`, level, text }].slice(-10);
    this.changed();
  }

  /** Coalesces changes into one snapshot per tick, and sends it only when something differs. */
  private changed(): void {
    if (this.emitQueued || this.capabilities === undefined || this.publisher === undefined) return;
    this.emitQueued = true;
    queueMicrotask(() => {
      this.emitQueued = false;
      const state = this.state();
      const json = JSON.stringify(state);
      if (json === this.lastSent) return;
      this.lastSent = json;
      for (const listener of this.listeners) listener(state);
    });
  }
}
