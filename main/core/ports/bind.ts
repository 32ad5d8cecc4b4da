import { closeSync } from 'node:fs';
import { bindSocket } from '../../../native';
import { ApiError } from '../../../common/api/backend-api';
import { errnoCode } from '../../../common/errno';
import { DEFAULT_PRIVILEGED_UDP, portRuleRefusal } from '../../../common/policy/port-rule-check';
import type { PortRules } from '../../../common/policy/port-rules';
import { mappingKey, protocolOf, withProtocol, type MappingKey } from '../../../common/ports/mapping';
import { describeKeyProblem, formatListen } from '../../../common/ports/parse';
import { HelperClient, HelperRequestError, HelperUnavailableError } from '../../helper-client';
import { diagnoseHelper, needsHelper, type HelperDiagnosis } from '../../../common/helper/diagnosis';
import { conditionOf } from '../helper-status';

/**
 * Getting a listening socket for a published port: bind it ourselves when
 * the OS lets this user, and ask the root helper only when it does not
 * (EACCES: a port below ip_unprivileged_port_start on Linux, or a specific
 * address below 1024 on macOS). Every failure is an ApiError whose message
 * says what to do.
 */

/**
 * How the backend reaches the helper: a fresh connection, or undefined when
 * the helper is not installed or not running (so callers can wait for it;
 * AcquireOptions.diagnose says which, and what fixes it).
 * Other failures (another account's helper, an impostor, a broken reply)
 * are thrown as the helper client's errors.
 */
export type HelperSource = () => Promise<HelperClient | undefined>;

export interface AcquireOptions {
  helper: HelperSource;
  /** The user's "privileged port mapping" setting: may Berth ask the helper at all? */
  privilegedPortMapping: boolean;
  /**
   * The machine is set up in user mode (berth-helper install --user): there is no
   * helper to install or turn on, so a refused low port says so instead.
   */
  userMode?: boolean;
  /**
   * Who holds "privileged port mapping" off by policy ("Example Corp policy v3"), if
   * anyone: then "turn it on in settings" would be advice the user cannot follow.
   */
  lockedBy?: string | null;
  /** The organization's port rules, checked before any bind (the helper checks them again for its ports). */
  portRules?: PortRulesInForce | null;
  /**
   * What is wrong with the helper, asked only when it could not be used, to
   * word the error (common/helper/diagnosis.ts): the install is looked at too
   * (not running, an update under way), which the failed connection alone
   * cannot tell. Default: what the failure itself says.
   */
  diagnose?: () => Promise<HelperDiagnosis>;
}

/** The policy's port rules and who set them ("Example Corp policy v3"). */
export interface PortRulesInForce {
  rules: PortRules;
  source: string;
}

export interface Listener {
  /** A close-on-exec socket: a listening TCP one, or a bound UDP one (key.protocol); the caller owns it. */
  fd: number;
  via: 'direct' | 'helper';
}

/** Backlog for sockets we bind ourselves; the helper uses the same. */
export const LISTEN_BACKLOG = 511;

/**
 * The one place that says how Berth connects to the helper: the socket at
 * `socketPath`, checked to be served by root (HelperClient does that), with
 * "not installed" and "not running" meaning "no helper for now".
 */
export function helperAt(socketPath: string, clientName = 'berth-ports'): HelperSource {
  return async () => {
    try {
      return await HelperClient.connect(socketPath, { clientName });
    } catch (error) {
      if (error instanceof HelperUnavailableError && (error.reason === 'not-installed' || error.reason === 'not-running')) {
        return undefined;
      }
      throw error;
    }
  };
}

/** A direct bind's errno → the user's sentence. */
function directBindError(key: MappingKey, error: unknown): ApiError {
  const where = formatListen(key);
  switch (errnoCode(error)) {
    case 'EADDRINUSE':
      return new ApiError('PORT_IN_USE', `${where} is already in use by another program`);
    case 'EADDRNOTAVAIL':
      return new ApiError('ADDRESS_UNAVAILABLE', `${key.address} is not an address of this machine`);
    case 'EAFNOSUPPORT':
      return new ApiError('ADDRESS_UNAVAILABLE', `${key.address} is an IPv6 address and IPv6 is turned off on this machine`);
    case 'EINVAL':
      return new ApiError('INVALID', `${where} is not a valid address and port`);
    case 'EMFILE':
    case 'ENFILE':
      return new ApiError('FAILED', `cannot listen on ${where}: too many open files`);
    default:
      return new ApiError('FAILED', `cannot listen on ${where} (${errnoCode(error) ?? (error as Error).message})`);
  }
}

/** The helper's own refusal (its protocol codes) → the user's sentence. */
function helperBindError(key: MappingKey, error: HelperRequestError): ApiError {
  const where = formatListen(key);
  switch (error.code) {
    case 'PORT_IN_USE':
      // A sibling address's holder (T27) is named by the helper: say who, since the port itself looks free.
      return new ApiError('PORT_IN_USE', error.message.includes(' serves ') ? error.message : `${where} is already in use by another program`);
    case 'ADDRESS_UNAVAILABLE':
      return new ApiError('ADDRESS_UNAVAILABLE', `${key.address} is not an address of this machine`);
    case 'LOCKED_BY_POLICY':
      // Either privileged port mapping is off, or a port rule refused: the helper's sentence names the rule.
      return error.message.startsWith('privileged port mapping')
        ? new ApiError('LOCKED', `port ${key.port} needs the privileged helper, and your organization has turned privileged port mapping off`)
        : new ApiError('LOCKED', error.message);
    case 'NOT_ALLOWED':
      // The helper's own rule for privileged UDP (its sentence says the same, in the helper's words).
      return protocolOf(key) === 'udp' ? udpLoopbackOnly(key) : new ApiError('LOCKED', error.message);
    case 'NOT_NEEDED':
      // We asked only because our own bind was refused; the helper disagrees, so the machine changed under us.
      return new ApiError(
        'FAILED',
        `the system refused ${where} to Berth although the port needs no privileges here: a security module (SELinux, AppArmor) or a firewall rule may forbid it`,
      );
    case 'PERMISSION_DENIED':
      return new ApiError('FAILED', `the system refused to let even the privileged helper bind ${where}`);
    case 'BAD_REQUEST':
      return new ApiError('INVALID', `the privileged helper refused ${where}: ${error.message}`);
    default:
      return new ApiError('FAILED', `the privileged helper could not bind ${where}: ${error.message}`);
  }
}

/** The helper could not be used (not its refusal of this port): an error carrying the diagnosis's words. */
async function helperUnusable(key: MappingKey, error: unknown, diagnose: AcquireOptions['diagnose']): Promise<ApiError> {
  if (error instanceof ApiError) return error;
  if (error instanceof HelperRequestError && !UNUSABLE_CODES.has(error.code)) return helperBindError(key, error);
  const diagnosis = await diagnosisFor(error, diagnose);
  const code = diagnosis.condition === 'not-installed' || diagnosis.condition === 'not-running' || diagnosis.condition === 'not-enrolled' ? 'HELPER_NEEDED' : 'HELPER_UNAVAILABLE';
  return new ApiError(code, needsHelper(`Port ${key.port}`, diagnosis));
}

/** Refusals that are about the helper as a whole (not this port): the diagnosis words them. */
const UNUSABLE_CODES: ReadonlySet<string> = new Set(['UNAUTHORIZED', 'UNSUPPORTED_VERSION', 'UNKNOWN_OP', 'BUSY']);

/**
 * The diagnosis to word a failure with: the caller's (which also looks at the
 * install), unless it cannot say more than "running" (the helper came back
 * meanwhile); else what the failure itself says. `undefined` is "no helper".
 */
async function diagnosisFor(error: unknown, diagnose: AcquireOptions['diagnose']): Promise<HelperDiagnosis> {
  const asked = await diagnose?.().catch(() => undefined);
  if (asked !== undefined && asked.condition !== 'running') return asked;
  if (error instanceof HelperRequestError && error.code === 'UNKNOWN_OP') return diagnoseHelper('needs-update', { detail: error.message });
  const { condition, facts } = error === undefined ? { condition: 'not-installed' as const, facts: {} } : conditionOf(error);
  return diagnoseHelper(condition, facts);
}

/**
 * Privileged UDP off loopback, refused (the helper refuses it too, T26): a UDP
 * socket on a low port sends from a "secure" source port that NFS-style
 * services on the network trust as root.
 */
function udpLoopbackOnly(key: MappingKey): ApiError {
  const loopback = formatListen({ ...key, address: key.address.includes(':') ? '::1' : '127.0.0.1' });
  return new ApiError(
    'LOCKED',
    `${formatListen(key)} needs the privileged helper, which serves UDP ports below 1024 on loopback addresses only unless your organization's policy allows more: use ${loopback}, or a port from 1024 up`,
  );
}

const TURN_ON_HINT = "turn on privileged port mapping in Berth's settings";

/** The setting is off: "turn it on", and when the helper cannot be used either, what is wrong with it too. */
async function mappingOff(key: MappingKey, options: AcquireOptions): Promise<ApiError> {
  const diagnosis = await helperDiagnosis(options);
  if (diagnosis === undefined) return new ApiError('HELPER_NEEDED', `port ${key.port} needs the privileged helper: ${TURN_ON_HINT} (the helper is installed)`);
  return new ApiError('HELPER_NEEDED', `${needsHelper(`Port ${key.port}`, diagnosis)} Then ${TURN_ON_HINT}.`);
}

/** What is wrong with the helper, or undefined when it answers; only to word the error when the setting is off, never used to bind. */
async function helperDiagnosis(options: AcquireOptions): Promise<HelperDiagnosis | undefined> {
  try {
    const client = await options.helper();
    client?.close();
    if (client !== undefined) return undefined;
    return await diagnosisFor(undefined, options.diagnose);
  } catch (error) {
    return diagnosisFor(error, options.diagnose);
  }
}

async function bindViaHelper(key: MappingKey, options: AcquireOptions): Promise<Listener> {
  let client: HelperClient | undefined;
  try {
    client = await options.helper();
  } catch (error) {
    throw await helperUnusable(key, error, options.diagnose);
  }
  if (client === undefined) throw await helperUnusable(key, undefined, options.diagnose);
  try {
    const protocol = protocolOf(key);
    const bound = await client.bindPort({ address: key.address, port: key.port, protocol });
    // The helper echoes what it bound; anything else is not the socket we asked for.
    if (bound.address !== key.address || bound.port !== key.port || bound.protocol !== protocol) {
      closeSync(bound.fd);
      throw new ApiError('HELPER_UNAVAILABLE', `the privileged helper bound something other than ${formatListen(key)}; refusing to use it`);
    }
    return { fd: bound.fd, via: 'helper' };
  } catch (error) {
    throw await helperUnusable(key, error, options.diagnose);
  } finally {
    client.close();
  }
}

/**
 * A listening TCP socket, or a bound UDP one, on `key`: bound directly, or by
 * the helper when the direct bind fails with EACCES, the setting allows it
 * and a helper answers.
 */
export async function acquireListener(key: MappingKey, options: AcquireOptions): Promise<Listener> {
  // The native layer checks again; this keeps names and out-of-range ports from ever reaching it.
  const only = withProtocol<MappingKey>({ address: key.address, port: key.port }, protocolOf(key)); // a whole MappingSpec may be passed: only where to listen matters
  const checked = mappingKey.safeParse(only);
  if (!checked.success) throw new ApiError('INVALID', describeKeyProblem(only) ?? 'not a literal IP address and a port 1-65535');
  const protocol = protocolOf(checked.data);
  // The organization's port rules apply to every port Berth publishes, not only the helper's.
  if (options.portRules) {
    const refusal = portRuleRefusal(options.portRules.rules, { ...checked.data, protocol });
    if (refusal !== undefined) throw new ApiError('LOCKED', `${formatListen(checked.data)} is not allowed by ${options.portRules.source}: ${refusal}`);
  }
  try {
    return { fd: bindSocket(checked.data.address, checked.data.port, protocol, LISTEN_BACKLOG), via: 'direct' };
  } catch (error) {
    // Only "not allowed" is the helper's business; every other failure would fail for root too.
    if (errnoCode(error) !== 'EACCES') throw directBindError(checked.data, error);
  }
  // Said before any helper is asked (or installed): the helper would refuse it (T26), so no prompt can help.
  if (protocol === 'udp' && portRuleRefusal({ udp: options.portRules?.rules.udp ?? DEFAULT_PRIVILEGED_UDP }, { ...checked.data, protocol }) !== undefined) {
    throw udpLoopbackOnly(checked.data);
  }
  if (options.userMode === true) {
    // "Install the helper" would be wrong advice: the administrator chose a machine without one.
    throw new ApiError(
      'HELPER_NEEDED',
      `port ${checked.data.port} is not allowed without the privileged helper, and this machine is set up in user mode (no helper): choose a port from 1024 up, or ask your administrator`,
    );
  }
  if (!options.privilegedPortMapping) {
    if (typeof options.lockedBy === 'string') {
      throw new ApiError(
        'HELPER_NEEDED',
        `port ${checked.data.port} needs the privileged helper, and privileged port mapping is turned off by ${options.lockedBy}: choose a port from 1024 up`,
      );
    }
    throw await mappingOff(checked.data, options);
  }
  return bindViaHelper(checked.data, options);
}
