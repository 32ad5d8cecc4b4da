import { negotiateVersion } from '../../common/protocol';
import { BERTH_VERSION } from '../../common/app-version';
import type { OperationHandler } from './types';

/** Operations this helper serves besides hello, reported so the app can adapt. */
export const CAPABILITIES = ['bindPort', 'installSymlinks', 'removeSymlinks', 'ensureHosts', 'removeHosts', 'storePolicy', 'traceProcesses', 'uninstall'];

export const hello: OperationHandler<'hello'> = (args) => ({
  result: {
    protocol: negotiateVersion(args.protocol),
    helperVersion: BERTH_VERSION,
    capabilities: CAPABILITIES,
  },
});
