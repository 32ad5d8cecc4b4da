import { bindPort } from './bind-port';
import { hello } from './hello';
import type { AuditPolicy, OperationHandlers } from './types';

/** The closed set: one handler per protocol operation, checked by the type. */
export const HANDLERS: OperationHandlers = { hello, bindPort };

export const AUDITED: AuditPolicy = { hello: false, bindPort: true };

export type { OperationContext, OperationHandlers } from './types';
