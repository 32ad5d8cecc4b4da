import { helperConfig, type HelperConfig } from '../../common/helper-config/schema';
import type { OperationContext } from '../../helper/ops/types';

/**
 * The context the daemon hands an operation, for calling a handler directly.
 * The peer and config are what the daemon would pass; progress frames and
 * after-reply actions are collected for the test to inspect.
 */
export function opContext(config: Partial<HelperConfig>, peerUid = 0): OperationContext & {
  progressFrames: Array<Record<string, unknown>>;
  afterReplyActions: Array<() => void>;
} {
  const progressFrames: Array<Record<string, unknown>> = [];
  const afterReplyActions: Array<() => void> = [];
  return {
    peer: { uid: peerUid, gid: peerUid, pid: process.pid },
    config: helperConfig.parse({ socketPath: '/run/berth-test/helper.sock', allowUid: 1000, ...config }),
    progress: (data) => progressFrames.push(data),
    afterReply: (action) => afterReplyActions.push(action),
    progressFrames,
    afterReplyActions,
  };
}
