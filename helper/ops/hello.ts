import { negotiateVersion } from '../../common/protocol';
import { BERTH_VERSION } from '../../common/app-version';
import type { OperationHandler } from './types';

/** Operations this helper serves besides hello, reported so the app can adapt. */
export const CAPABILITIES = ['bindPort'];

export const hello: OperationHandler<'hello'> = (args) => ({
  result: {
    protocol: negotiateVersion(args.protocol),
    helperVersion: BERTH_VERSION,
    capabilities: CAPABILITIES,
  },
});
