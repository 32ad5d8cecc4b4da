import { type ApiResult, type BackendState, type DiagnosticsState, ApiError } from '../../common/api/backend-api';
import type { Capabilities } from '../../common/api/capabilities';
import { BERTH_VERSION } from '../../common/app-version';
import type { InstallLayout } from '../../common/paths';
import type { SettingChange } from '../../common/api/backend-api';
import type { UserPaths } from '../../common/user-paths';
import { readAuditTail } from './audit-tail';
import { fileRecovered, settingKeys, settingNotices } from './backend-notices';
import { PromptFlow, type Elevation } from './consent/prompt-flow';
import { NoticeSet, type NoticeSpec } from './notices';
import { dispatch, type ApiHandlers, type ApiHost, type CallReply } from './api/dispatch';
import { createDiagnosticsArchive } from './diagnostics/archive';
import { runtimeMetrics } from './diagnostics/loop-delay';
import type { Logger } from './log';
import { policyLocks, policyPortRules, policySource, readAppPolicy } from './policy/app-policy';
import { refreshPolicyFromConfig } from './policy/refresh-from-config';
import { PolicyRefetch, type RefetchOptions } from './policy/refetch-schedule';
import { Reconciler } from './reconcile';
import { CapabilitiesTracker } from './capabilities/tracker';
import { PortPublisher } from './ports/publisher';
import { SettingsStore } from './settings/store';
import type { LoginItem } from './system-settings';
import { loginItemState, refuseUnavailableLoginItem } from './login-item';

/**
 * The backend: the one store the app shows, and the one place commands run.
 * Electron-free; the Electron main process, the browser mode and the CLI's
 * control socket all drive this same object through `ApiHost`.
 */

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
  /** When the organization policy is fetched again (refetch-schedule.ts); tests shorten the back-off. */
  policyRefetch?: RefetchOptions;
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

export class Backend implements ApiHost {
  /** What the user should know now: keyed, each dropped once it is no longer true (notices.ts). */
  private readonly notices = new NoticeSet((notice) => this.options.log.warn(notice.text));
  private diagnostics: DiagnosticsState = IDLE_DIAGNOSTICS;
  private readonly listeners = new Set<(state: BackendState) => void>();
  private lastSent = '';
  private emitQueued = false;
  private timers: NodeJS.Timeout[] = [];
  private readonly settings: SettingsStore;
  private publisher!: PortPublisher;
  private policy: Capabilities['policy'];
  private readonly handlers: ApiHandlers;
  /** The consent screen's choice, the administrator prompts and limited mode (consent/prompt-flow.ts). */
  private readonly prompts: PromptFlow;
  /** The capabilities report, and the helper's status between refreshes (capabilities/tracker.ts). */
  private readonly tracker: CapabilitiesTracker;
  /** Carries out the settings whenever the machine differs from them (reconcile.ts). */
  private readonly reconciler: Reconciler;
  private readonly policyRefetch: PolicyRefetch;

  private constructor(private readonly options: BackendOptions) {
    this.policy = readAppPolicy(this.options.layout);
    // First: the settings' notice below already asks for a snapshot, which reads its report.
    this.tracker = new CapabilitiesTracker({
      layout: options.layout,
      appPath: options.appPath,
      userBinDir: options.paths.userBinDir,
      hostsPath: options.hostsPath,
      settings: () => this.settings.get(),
      policy: () => this.policy,
      onReport: (back) => {
        this.changed();
        void this.reconciler.run();
        // Back (an install, a restart): the policy too, as an install may have set its URL.
        if (back) void this.policyRefetch.fetchNow();
      },
      onReached: () => void this.publisher?.retryWaiting(),
    });
    const opened = SettingsStore.open({
      path: options.paths.settingsPath,
      locked: () => policyLocks(this.policy),
      lockedBy: () => policySource(this.policy),
    });
    this.settings = opened.store;
    if (opened.notice !== undefined) this.notify(fileRecovered('settings', opened.notice));
    this.settings.onChange(() => this.changed());
    this.prompts = new PromptFlow({
      settings: this.settings,
      capabilities: () => this.capabilities,
      apply: (keys) => this.applySettings(keys),
      refresh: (askHelper) => this.refresh(askHelper),
      notify: (notice, replacing) => this.notify(notice, replacing),
      changed: () => this.changed(),
      log: options.log,
      appPath: options.appPath,
      elevation: options.elevation,
    });
    this.handlers = this.makeHandlers();
    this.reconciler = new Reconciler({
      settings: () => this.settings.get(),
      set: (change) => this.settings.set(change),
      capabilities: () => this.capabilities,
      observe: async () => (await this.tracker.update(), this.capabilities),
      helper: () => this.tracker.connect(),
      helperGeneration: () => this.tracker.probes.probes,
      // A report about these settings replaces the last one; a withdrawn "will apply" goes alone.
      report: (keys, report) => this.notify(undefined, settingKeys(keys), settingNotices(report)),
      withdraw: (key) => this.notify(undefined, settingKeys([key])),
      log: options.log,
      appPath: options.appPath,
      userBinDir: options.paths.userBinDir,
      loginItem: options.loginItem,
    });
    this.policyRefetch = new PolicyRefetch(() => this.fetchPolicy(), () => this.policy, options.policyRefetch);
  }

  static async start(options: BackendOptions): Promise<Backend> {
    const backend = new Backend(options);
    await backend.tracker.update();
    const opened = await PortPublisher.open({
      mappingsPath: options.paths.mappingsPath,
      runsDir: options.paths.runsDir,
      helper: () => backend.tracker.connect(),
      privilegedPortMapping: () => backend.settings.get().privilegedPortMapping,
      userMode: () => backend.capabilities.userMode !== null,
      privilegedPortMappingLockedBy: () =>
        policyLocks(backend.policy).privilegedPortMapping === false ? (policySource(backend.policy) ?? 'your organization') : null,
      portRules: () => policyPortRules(backend.policy),
      helperDiagnosis: async () => (await backend.tracker.probes.status(true)).diagnosis,
      onChange: () => backend.changed(),
      helperSocketPath: options.layout.socketPath,
    });
    backend.publisher = opened.publisher;
    if (opened.notice !== undefined) backend.notify(fileRecovered('mappings', opened.notice));
    const every = options.refreshIntervalMs ?? 10_000;
    backend.timers.push(setInterval(() => void backend.refresh(), every).unref());
    void backend.policyRefetch.fetchNow();
    options.log.info(`backend ${BERTH_VERSION} started; helper ${backend.capabilities.helper.state}`);
    return backend;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.policyRefetch.close();
    this.reconciler.close();
    this.listeners.clear();
    await this.publisher?.close();
  }

  // ApiHost: every transport calls through here.
  call(method: unknown, params: unknown): Promise<CallReply> {
    return dispatch(this.handlers, method, params);
  }

  state(): BackendState {
    const state = {
      capabilities: this.capabilities,
      settings: this.settings.get(),
      locked: this.settings.locked(),
      ports: this.publisher.list(),
      diagnostics: this.diagnostics,
      prompt: this.prompts.open,
      startAtLogin: loginItemState(this.options.loginItem),
    };
    return { ...state, notices: this.notices.current(state) };
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
    this.policyRefetch.policyRead(this.policy);
    if (await this.tracker.update(askHelper)) await this.publisher?.retryWaiting();
    return this.capabilities;
  }

  private get capabilities(): Capabilities {
    return this.tracker.current;
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
      'consent.decide': (params) => this.prompts.decideConsent(params.choice, { allowUnsafeLocation: params.allowUnsafeLocation === true }),
      'helper.install': (params) => this.prompts.runPrompt('install', { allowUnsafeLocation: params.allowUnsafeLocation === true }),
      'helper.uninstall': (params) => this.prompts.runPrompt('uninstall', { allowUnsafeLocation: params.allowUnsafeLocation === true }),
      'helper.declineUpdate': async () => {
        this.prompts.declineUpdate();
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
      'app.metrics': async ({ reset }) => runtimeMetrics(reset === true),
      'notices.dismiss': async ({ key }) => {
        if (this.notices.dismiss(key)) this.changed();
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

  /** Carries out settings that changed (Reconciler.apply); returns why a CLI location was refused, if it was. */
  private async applySettings(keys: ReadonlyArray<SettingChange['key']>): Promise<string | undefined> {
    const refused = await this.reconciler.apply(keys);
    if (keys.includes('privilegedPortMapping')) await this.publisher?.privilegedSettingChanged();
    await this.refresh();
    return refused;
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
        helper: () => this.tracker.connect(),
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

  /** The admin-set policy URL, fetched and handed to the helper (PolicyRefetch says when); failures are logged, the cached policy stays. */
  private async fetchPolicy(): ReturnType<typeof refreshPolicyFromConfig> {
    const { configPath, stateDir } = this.options.layout;
    const outcome = await refreshPolicyFromConfig({ configPath, stateDir, connect: () => this.tracker.connect(), log: this.options.log });
    if (outcome === 'stored') await this.refresh();
    else this.policy = readAppPolicy(this.options.layout);
    return outcome;
  }

  /** Shows `notice` (and `more`) in place of the ones under `replacing`, and sends the state. */
  private notify(notice: NoticeSpec | undefined, replacing: readonly string[] = [], more: readonly NoticeSpec[] = []): void {
    this.notices.replace(replacing, [notice, ...more]);
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
