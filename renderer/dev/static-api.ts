import {
  API_METHODS,
  ApiError,
  type ApiMethod,
  type ApiParams,
  type ApiResult,
  type BackendState,
  type PromptOutcome,
} from '../../common/api/backend-api';
import { helperUpdateKey } from '../../common/api/capabilities';
import { diagnoseHelper } from '../../common/helper/diagnosis';
import { mappingId, type MappingStatus } from '../../common/ports/mapping';
import { createConnectionHub } from '../bridge/connection';
import type { RendererApi } from '../bridge/types';

/**
 * A dev-only, in-page BerthApi over one snapshot, for the preview page and
 * the store's tests: params are checked with the API's own schemas (as the
 * backend does), and each command changes the snapshot the way the backend
 * would, in the simplest way. Never part of the app build.
 */

export interface StaticApiOptions {
  /** How an OS prompt ends (default: approved). */
  promptOutcome?: PromptOutcome['kind'];
}

export interface StaticApi extends RendererApi {
  /** The snapshot as it is now. */
  current(): BackendState;
}

const OUTCOME_MESSAGE: Record<PromptOutcome['kind'], string> = {
  approved: 'The helper is installed and running.',
  cancelled: 'You cancelled the password prompt.',
  'not-authorized': 'This account is not allowed to install the helper.',
  'no-agent': 'No password dialog could be shown (no authentication agent runs).',
  unavailable: 'This system has no way to ask for your password.',
  failed: 'The installer failed.',
  'unsafe-location': 'The helper Berth would install is in a folder you can change; install Berth to /opt first.',
  'untrusted-helper': 'The helper Berth would run is not the one Berth signed; reinstall Berth.',
};

/** As the helper writes them (helper/daemon/audit.ts): one JSON object a line. */
const AUDIT_SAMPLE = [
  { time: '2025-05-02T09:14:05.410Z', peer: { uid: 1000, pid: 4242 }, op: 'bindPort', args: { address: '127.0.0.1', port: 80, protocol: 'tcp' }, result: 'ok' },
  { time: '2025-05-02T09:20:41.003Z', peer: { uid: 1000, pid: 4242 }, op: 'ensureHosts', args: { names: ['localhost', 'berth.internal'] }, result: 'ok' },
  { time: '2025-05-02T09:21:12.880Z', peer: { uid: 1000, pid: 4242 }, op: 'removeHosts', args: { names: ['berth.internal'] }, result: 'ok' },
  {
    time: '2025-05-02T10:02:17.551Z',
    peer: { uid: 1000, pid: 4242 },
    op: 'bindPort',
    args: { address: '0.0.0.0', port: 443, protocol: 'tcp' },
    result: 'LOCKED_BY_POLICY',
    message: 'privileged port mapping is turned off by Example Corp policy v3',
  },
  { time: '2025-05-02T10:05:09.004Z', peer: { uid: 1001, pid: 777 }, op: 'connect', result: 'UNAUTHORIZED' },
].map((entry) => JSON.stringify(entry));

export function createStaticApi(initial: BackendState, options: StaticApiOptions = {}): StaticApi {
  let state: BackendState = structuredClone(initial);
  const listeners = new Set<(state: BackendState) => void>();
  const connection = createConnectionHub({ status: 'connecting', detail: null });

  function commit(next: BackendState): void {
    state = next;
    connection.set({ status: 'open', detail: null });
    for (const listener of [...listeners]) listener(structuredClone(state));
  }

  /** A prompt: "waiting for your password" in the state first, then its outcome. */
  async function runPrompt(action: 'install' | 'uninstall', allowUnsafeLocation = false): Promise<PromptOutcome> {
    // As the backend: no prompt for a helper someone other than root can change, unless confirmed.
    const warning = state.capabilities.helper.installWarning;
    if (warning !== null && !allowUnsafeLocation) return { kind: 'unsafe-location', message: warning };
    commit({ ...state, prompt: action });
    await Promise.resolve();
    const kind = options.promptOutcome ?? 'approved';
    const outcome = { kind, message: OUTCOME_MESSAGE[kind] };
    const helper = state.capabilities.helper;
    if (kind !== 'approved') {
      const consent = action === 'install' && state.settings.consent !== 'install' ? 'limited' : state.settings.consent;
      // As the backend: the outcome is the prompt's one notice (it replaces the last prompt's).
      const key = `helper.${action}`;
      const notice = { key, level: 'warning' as const, text: outcome.message, detail: null, fix: null };
      const notices = [...state.notices.filter((n) => n.key !== key), notice];
      commit({ ...state, prompt: null, settings: { ...state.settings, consent }, notices });
      return outcome;
    }
    const installed = action === 'install';
    commit({
      ...state,
      prompt: null,
      settings: { ...state.settings, consent: installed ? 'install' : state.settings.consent },
      capabilities: {
        ...state.capabilities,
        helper: installed
          ? { ...helper, state: 'running', message: diagnoseHelper('running', { version: helper.bundledVersion }).sentence, diagnosis: diagnoseHelper('running', { version: helper.bundledVersion }), version: helper.bundledVersion, protocol: 1 }
          : { ...helper, state: 'not-installed', message: diagnoseHelper('not-installed').sentence, diagnosis: diagnoseHelper('not-installed'), version: null, protocol: null },
      },
    });
    return outcome;
  }

  async function handle(method: ApiMethod, params: unknown): Promise<unknown> {
    switch (method) {
      case 'state.get':
        return state;
      case 'capabilities.refresh':
        return state.capabilities;
      case 'ports.add': {
        const spec = params as ApiParams<'ports.add'>;
        if (state.ports.some((m) => m.id === mappingId(spec))) {
          throw new ApiError('CONFLICT', `${mappingId(spec)} is already published.`);
        }
        const privileged = spec.port < 1024 && !state.capabilities.directLowPortBind.specificAddress;
        if (privileged && (state.capabilities.helper.state !== 'running' || !state.settings.privilegedPortMapping)) {
          throw new ApiError('HELPER_NEEDED', `Port ${spec.port} needs the helper with privileged port mapping on.`);
        }
        const added: MappingStatus = {
          id: mappingId(spec),
          spec,
          state: 'listening',
          via: privileged ? 'helper' : 'direct',
          error: null,
          retry: null,
          connections: { active: 0, total: 0, failed: 0 },
          bytes: { in: 0, out: 0 },
          ...(spec.protocol === 'udp' ? { packets: { in: 0, out: 0 } } : {}),
          lastTargetError: null,
          acceptError: null,
        };
        commit({ ...state, ports: [...state.ports, added] });
        return added;
      }
      case 'ports.remove': {
        const key = params as ApiParams<'ports.remove'>;
        const id = mappingId(key);
        if (!state.ports.some((m) => m.id === id)) throw new ApiError('NOT_FOUND', `${id} is not published.`);
        commit({ ...state, ports: state.ports.filter((m) => m.id !== id) });
        return { removed: true };
      }
      case 'settings.set': {
        const change = params as ApiParams<'settings.set'>;
        if (change.key in state.locked) throw new ApiError('LOCKED', 'Your organization has locked this setting.');
        const settings = { ...state.settings, [change.key]: change.value };
        commit({ ...state, settings });
        return settings;
      }
      case 'consent.decide': {
        const { choice, allowUnsafeLocation } = params as ApiParams<'consent.decide'>;
        if (choice === 'limited') {
          commit({ ...state, settings: { ...state.settings, consent: 'limited' } });
          return null;
        }
        return runPrompt('install', allowUnsafeLocation === true);
      }
      case 'helper.install':
        return runPrompt('install', (params as ApiParams<'helper.install'>).allowUnsafeLocation === true);
      case 'helper.uninstall':
        return runPrompt('uninstall', (params as ApiParams<'helper.uninstall'>).allowUnsafeLocation === true);
      case 'helper.declineUpdate':
        commit({ ...state, settings: { ...state.settings, helperUpdateAskedFor: helperUpdateKey(state.capabilities.helper) } });
        return { ok: true };
      case 'diagnose': {
        if (state.diagnostics.state === 'running') throw new ApiError('BUSY', 'Diagnostics are already being gathered.');
        const path = '/home/ada/Berth diagnostics 2025-05-02 10.14.tar.gz';
        commit({ ...state, diagnostics: { state: 'done', step: null, progress: 1, path, error: null } });
        return { path };
      }
      case 'audit.tail': {
        const { lines } = params as ApiParams<'audit.tail'>;
        return { lines: AUDIT_SAMPLE.slice(-lines), error: null };
      }
      case 'notices.dismiss': {
        const { key } = params as ApiParams<'notices.dismiss'>;
        commit({ ...state, notices: state.notices.filter((n) => n.key !== key) });
        return { ok: true };
      }
      case 'app.quit':
        return { ok: true };
      case 'app.openSettings':
        return { opened: false };
      case 'app.windowLink':
        return { url: null };
      case 'app.metrics':
        // The preview has no backend process to measure.
        return { loopDelay: null, memory: { rssBytes: 0, heapUsedBytes: 0, heapTotalBytes: 0, externalBytes: 0, arrayBuffersBytes: 0 } };
    }
  }

  return {
    kind: 'preview',
    async call<M extends ApiMethod>(method: M, params: ApiParams<M>): Promise<ApiResult<M>> {
      // The same gate as the backend's: unknown params never reach a handler.
      const checked = API_METHODS[method].params.safeParse(params);
      if (!checked.success) throw new ApiError('INVALID', `${method}: ${checked.error.issues[0]?.message ?? 'invalid parameters'}`);
      return API_METHODS[method].result.parse(await handle(method, checked.data)) as ApiResult<M>;
    },
    subscribe(listener) {
      listeners.add(listener);
      connection.set({ status: 'open', detail: null });
      listener(structuredClone(state));
      return () => void listeners.delete(listener);
    },
    onConnection: connection.listen,
    current: () => structuredClone(state),
  };
}
