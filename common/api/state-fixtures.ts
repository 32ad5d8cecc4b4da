import type { BackendState } from './backend-api';
import { diagnoseHelper, type DiagnosisFacts, type HelperCondition, type HelperDiagnosis } from '../helper/diagnosis';
import type { MappingStatus } from '../ports/mapping';
import { NO_POLICY } from './capabilities';

/**
 * Realistic backend snapshots for the dev preview (renderer/dev/preview.tsx, the tray menu's)
 * and the renderer's tests. Each one is checked with `backendState.parse` in
 * state-fixtures.test.ts, so they cannot drift from the API.
 */

const USER_MODE_LIMITS = [
  'only the account it was set up for can use Berth',
  'ports below 1024 work only where the OS allows a direct bind',
  'no privileged diagnostics trace is gathered',
];

function mapping(
  address: string,
  port: number,
  host: string,
  targetPort: number,
  extra: Partial<Omit<MappingStatus, 'id' | 'spec'>> = {},
): MappingStatus {
  return {
    id: address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`,
    spec: { address, port, target: { host, port: targetPort } },
    state: 'listening',
    via: 'direct',
    error: null,
    retry: null,
    connections: { active: 0, total: 0, failed: 0 },
    bytes: { in: 0, out: 0 },
    lastTargetError: null,
    acceptError: null,
    ...extra,
  };
}

/** The helper's sentence and diagnosis for a condition, as the backend reports them (common/helper/diagnosis.ts). */
export function helperWords(condition: HelperCondition, facts: DiagnosisFacts = {}): { message: string; diagnosis: HelperDiagnosis } {
  const diagnosis = diagnoseHelper(condition, facts);
  return { message: diagnosis.sentence, diagnosis };
}

function base(): BackendState {
  return {
    capabilities: {
      platform: 'linux',
      helper: {
        state: 'running',
        ...helperWords('running', { version: '0.1.0' }),
        version: '0.1.0',
        bundledVersion: '0.1.0',
        bundledBuild: null,
        protocol: 1,
        operations: ['hello', 'bindPort', 'installSymlinks', 'removeSymlinks', 'ensureHosts', 'removeHosts', 'trace'],
        installWarning: null,
      },
      userMode: null,
      directLowPortBind: { anyAddress: false, specificAddress: false, detail: 'net.ipv4.ip_unprivileged_port_start is 1024' },
      cliTools: { location: 'system', dir: '/usr/local/bin', linked: ['berth'], missing: [], unsafe: [] },
      hostsEntries: { present: true, entries: ['127.0.0.1 localhost', '127.0.0.1 berth.internal'], error: null },
      policy: NO_POLICY,
    },
    settings: {
      privilegedPortMapping: true,
      cliToolsLocation: 'system',
      hostsEntries: true,
      startAtLogin: false,
      consent: 'install',
      helperUpdateAskedFor: null,
    },
    locked: {},
    ports: [],
    diagnostics: { state: 'idle', step: null, progress: 0, path: null, error: null },
    notices: [],
    prompt: null,
    startAtLogin: { available: true, description: 'Open Berth in the menu bar when you log in.' },
  };
}

/** The helper runs; two ports are published, one through the helper. */
export function runningState(): BackendState {
  const state = base();
  state.ports = [
    mapping('127.0.0.1', 80, 'localhost', 8080, {
      via: 'helper',
      connections: { active: 2, total: 148, failed: 0 },
      bytes: { in: 1_482_113, out: 23_904_512 },
    }),
    mapping('0.0.0.0', 5173, 'localhost', 5173, {
      connections: { active: 0, total: 12, failed: 1 },
      bytes: { in: 20_480, out: 734_003 },
      lastTargetError: 'connect ECONNREFUSED 127.0.0.1:5173',
    }),
  ];
  return state;
}

/** First run: nothing installed and the consent screen not answered yet. */
export function firstRunState(): BackendState {
  const state = base();
  state.capabilities.helper = {
    ...state.capabilities.helper,
    state: 'not-installed',
    ...helperWords('not-installed'),
    version: null,
    protocol: null,
    operations: [],
  };
  state.capabilities.cliTools = { location: 'user', dir: '/home/ada/.berth/bin', linked: [], missing: ['berth'], unsafe: [] };
  state.capabilities.hostsEntries = { present: false, entries: [], error: null };
  state.settings = { ...state.settings, consent: 'undecided' };
  return state;
}

/** Another account on this machine installed the helper; this one is not enrolled yet (its first run). */
export function notEnrolledState(): BackendState {
  const state = firstRunState();
  state.capabilities.helper = {
    ...state.capabilities.helper,
    state: 'not-enrolled',
    ...helperWords('not-enrolled'),
  };
  return state;
}

/** "Not now": limited mode after a cancelled prompt. */
export function limitedState(): BackendState {
  const state = firstRunState();
  state.settings = { ...state.settings, consent: 'limited', cliToolsLocation: 'user', hostsEntries: false };
  state.ports = [mapping('127.0.0.1', 3000, 'localhost', 3000, { connections: { active: 1, total: 3, failed: 0 }, bytes: { in: 5120, out: 88_000 } })];
  state.notices = [
    {
      key: 'helper.install',
      level: 'warning',
      text: 'The administrator prompt was cancelled, so nothing was changed; try again when you are ready.',
      detail: null,
      fix: { label: 'Try again', method: 'helper.install' },
    },
  ];
  return state;
}

/** A machine an admin set up with `install --user=ada`: no helper, never a prompt. */
export function userModeState(): BackendState {
  const state = base();
  state.capabilities.helper = {
    ...state.capabilities.helper,
    state: 'user-mode',
    ...helperWords('user-mode', { userModeUser: 'ada' }),
    version: null,
    protocol: null,
    operations: [],
  };
  state.capabilities.userMode = { user: 'ada', uid: 1000, limits: [...USER_MODE_LIMITS] };
  state.capabilities.cliTools = { location: 'user', dir: '/home/ada/.berth/bin', linked: ['berth'], missing: [], unsafe: [] };
  state.settings = { ...state.settings, consent: 'undecided', cliToolsLocation: 'user' };
  state.ports = [mapping('127.0.0.1', 8443, 'localhost', 443, { connections: { active: 0, total: 4, failed: 0 }, bytes: { in: 9000, out: 41_000 } })];
  return state;
}

/** An organization's policy locks two settings and limits registries. */
export function lockedPolicyState(): BackendState {
  const state = runningState();
  state.capabilities.policy = {
    state: 'valid',
    reason: null,
    organization: 'Acme Corp',
    version: 7,
    expires: '2027-01-31',
    lockedSettings: { privilegedPortMapping: false, cliToolsLocation: 'user' },
    allowedRegistries: ['registry.acme.example', 'ghcr.io/acme'],
    portRules: { allow: [80, 443, '3000-3999', '8000-8999'], wildcardAddresses: false },
  };
  state.locked = { privilegedPortMapping: false, cliToolsLocation: 'user' };
  state.settings = { ...state.settings, privilegedPortMapping: false, cliToolsLocation: 'user' };
  state.capabilities.cliTools = { location: 'user', dir: '/home/ada/.berth/bin', linked: ['berth'], missing: [], unsafe: [] };
  state.ports = [state.ports[1]!];
  state.notices = [{ key: 'policy', level: 'info', text: 'Acme Corp manages Berth on this computer: two settings are locked.', detail: null, fix: null }];
  return state;
}

/** Things going wrong at once: an old helper, ports waiting (for the helper, for an address), one refused, diagnostics running. */
export function troubleState(): BackendState {
  const state = runningState();
  state.capabilities.helper = { ...state.capabilities.helper, state: 'needs-update', version: '0.0.9', ...helperWords('needs-update', { version: '0.0.9', bundledVersion: '0.1.0' }) };
  // The policy its ports' messages name: it holds privileged port mapping off and denies port 3000.
  state.capabilities.policy = {
    state: 'valid',
    reason: null,
    organization: 'Example Corp',
    version: 3,
    expires: '2027-12-01T00:00:00Z',
    lockedSettings: { privilegedPortMapping: false },
    allowedRegistries: null,
    portRules: { deny: [3000], wildcardAddresses: true },
  };
  state.locked = { privilegedPortMapping: false };
  state.settings = { ...state.settings, privilegedPortMapping: false };
  state.ports = [
    mapping('127.0.0.1', 443, 'localhost', 8443, {
      state: 'waiting',
      via: null,
      error: {
        code: 'HELPER_NEEDED',
        message: 'port 443 needs the privileged helper, and privileged port mapping is turned off by Example Corp policy v3: choose a port from 1024 up',
      },
    }),
    mapping('192.168.1.20', 8080, 'localhost', 8080, {
      state: 'waiting',
      via: null,
      error: { code: 'ADDRESS_UNAVAILABLE', message: '192.168.1.20 is not an address of this machine' },
      // The VPN is not up yet: tried again when the addresses change, or in 8 s.
      retry: { at: new Date(Date.now() + 8_000).toISOString(), onAddressChange: true },
    }),
    mapping('127.0.0.1', 3000, 'localhost', 3001, {
      state: 'error',
      via: null,
      error: { code: 'LOCKED', message: '127.0.0.1:3000 is not allowed by Example Corp policy v3: port 3000 is on its list of denied ports' },
    }),
  ];
  state.diagnostics = { state: 'running', step: 'privileged trace (3 of 5 s)', progress: 0.6, path: null, error: null };
  state.notices = [
    {
      key: 'setting.hostsEntries',
      level: 'warning',
      text: 'The hosts entries could not be changed.',
      detail: 'the hosts file /etc/hosts is read-only; nothing was changed',
      fix: { label: 'Open Settings', method: 'app.openSettings' },
    },
    {
      key: 'setting.cliToolsLocation',
      level: 'error',
      text: 'Your CLI tools stay in /home/ada/.berth/bin, because the helper did not link them into /usr/local/bin: the link would run /home/ada/Berth/resources/bin/berth, but others can change it; to use the System location, install Berth where only root can write (for example under /opt).',
      detail: null,
      fix: null,
    },
    {
      key: 'helper.install',
      level: 'warning',
      text: 'You approved the request, but the command failed with exit code 1; try again, and report it if it keeps failing.',
      detail: 'berth-helper install: /usr/local/libexec is not root-owned (uid 1000 owns it); nothing was changed',
      fix: { label: 'Try again', method: 'helper.install' },
    },
  ];
  return state;
}

export const FIXTURES = {
  running: runningState,
  'first-run': firstRunState,
  'not-enrolled': notEnrolledState,
  limited: limitedState,
  'user-mode': userModeState,
  locked: lockedPolicyState,
  trouble: troubleState,
} as const;

export type FixtureName = keyof typeof FIXTURES;
