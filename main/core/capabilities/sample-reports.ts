// Test support only (imported by tests, never by the app): capabilities
// reports for the formatters, which only turn a report into text.
import { NO_POLICY, type Capabilities } from '../../../common/api/capabilities';
import { BERTH_VERSION } from '../../../common/app-version';
import { diagnoseHelper } from '../../../common/helper/diagnosis';

export { NO_POLICY };

/** A report with the helper in `state`; everything else plain. */
export function sampleReport(state: Capabilities['helper']['state'], overrides: Partial<Capabilities> = {}): Capabilities {
  return {
    platform: 'linux',
    helper: {
      state,
      message: diagnoseHelper(state).sentence,
      diagnosis: diagnoseHelper(state),
      version: state === 'running' || state === 'needs-update' ? (state === 'running' ? BERTH_VERSION : '0.0.1') : null,
      bundledVersion: BERTH_VERSION,
      bundledBuild: null,
      protocol: state === 'running' || state === 'needs-update' ? 1 : null,
      operations: state === 'running' ? ['hello', 'bindPort'] : [],
      installWarning: null,
    },
    userMode: null,
    directLowPortBind: { anyAddress: false, specificAddress: false, detail: 'net.ipv4.ip_unprivileged_port_start = 1024: ports below 1024 need the helper' },
    cliTools: { location: 'system', dir: '/usr/local/bin', linked: [], missing: ['berth'], unsafe: [] },
    hostsEntries: { present: false, entries: [], error: null },
    policy: NO_POLICY,
    ...overrides,
  };
}
