import { helperConfig, type HelperConfig } from '../../common/helper-config/schema';
import type { OperationContext } from '../../helper/ops/types';
import { fixedEnrolment } from '../../helper/daemon/enrolment';

/**
 * The context the daemon hands an operation, for calling a handler directly.
 * The peer, config and enrolment are what the daemon would pass; progress frames and
 * after-reply actions are collected for the test to inspect.
 */
export function opContext(config: Partial<HelperConfig>, peerUid = 0): OperationContext & {
  progressFrames: Array<Record<string, unknown>>;
  afterReplyActions: Array<() => void>;
} {
  const progressFrames: Array<Record<string, unknown>> = [];
  const afterReplyActions: Array<() => void> = [];
  const parsed = helperConfig.parse({ socketPath: '/run/berth-test/helper.sock', allowUids: [1000], ...config });
  return {
    peer: { uid: peerUid, gid: peerUid, pid: process.pid },
    config: parsed,
    // In memory, as `serve` with flags has it: these contexts have no config file.
    enrolment: fixedEnrolment(parsed.allowUids),
    progress: (data) => progressFrames.push(data),
    afterReply: (action) => afterReplyActions.push(action),
    progressFrames,
    afterReplyActions,
  };
}
