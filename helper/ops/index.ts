import { bindPort } from './bind-port';
import { hello } from './hello';
import { ensureHosts, removeHosts } from './hosts';
import { storePolicy } from './store-policy';
import { installSymlinks, removeSymlinks } from './symlinks';
import { traceProcesses } from './trace';
import { uninstall } from './uninstall';
import type { AuditPolicy, OperationHandlers } from './types';

/** The closed set: one handler per protocol operation, checked by the type. */
export const HANDLERS: OperationHandlers = {
  hello,
  bindPort,
  installSymlinks,
  removeSymlinks,
  ensureHosts,
  removeHosts,
  storePolicy,
  traceProcesses,
  uninstall,
};

/** Every privileged action is audited; hello (version talk) is not one. */
export const AUDITED: AuditPolicy = {
  hello: false,
  bindPort: true,
  installSymlinks: true,
  removeSymlinks: true,
  ensureHosts: true,
  removeHosts: true,
  storePolicy: true,
  traceProcesses: true,
  uninstall: true,
};

export type { OperationContext, OperationHandlers } from './types';
