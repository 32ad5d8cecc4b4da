import type { PeerCredentials } from '../../native';
import type { OperationArgs, OperationName, OperationResult } from '../../common/protocol';
import type { HelperConfig } from '../../common/helper-config/schema';
import type { Enrolment } from '../daemon/enrolment';

export interface OperationContext {
  readonly peer: PeerCredentials;
  readonly config: HelperConfig;
  /** Who is enrolled; a user's own uninstall ends only their enrolment while others remain. */
  readonly enrolment: Enrolment;
  /** Streams part of a long operation's output to the caller before the final reply. */
  progress(data: Record<string, unknown>): void;
  /** Runs once the final reply has been handed to the kernel (uninstall exits then). */
  afterReply(action: () => void): void;
  /**
   * Set only when the helper runs as the installed systemd service: there it
   * is inside the unit it would remove, and inside that unit's sandbox, so it
   * can neither stop nor disable the unit, nor remove its own folders.
   * uninstall then records the request and calls this after its reply: the
   * helper exits with REMOVAL_EXIT_STATUS and the unit's finisher, run by
   * systemd outside the sandbox, completes the removal.
   */
  readonly handOverRemoval?: () => void;
}

/** What a handler hands back: the result and, for bindPort, the fds to pass. */
export interface OperationOutcome<Op extends OperationName> {
  result: OperationResult<Op>;
  /** Passed with the reply and then closed here: the helper keeps no copy. */
  fds?: number[];
}

export type OperationHandler<Op extends OperationName> = (
  args: OperationArgs<Op>,
  context: OperationContext,
) => OperationOutcome<Op> | Promise<OperationOutcome<Op>>;

export type OperationHandlers = { [Op in OperationName]: OperationHandler<Op> };

/** Whether an op is written to the audit log. hello is not a privileged action. */
export type AuditPolicy = { [Op in OperationName]: boolean };
