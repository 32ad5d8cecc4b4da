import { z } from 'zod';
import { loadPublicKey } from '../policy/keys';
import { MAX_AUDIT_FILES } from '../audit-log-files';

function isEd25519PublicKey(pem: string): boolean {
  try {
    loadPublicKey(pem);
    return true;
  } catch {
    return false;
  }
}

/**
 * What the daemon needs to run. `serve` builds it from flags; the installed
 * service reads the same shape from root-owned config.
 */
export const helperLimits = z.strictObject({
  /** Open authorized connections at once; more get BUSY (the enrolled users cannot starve root of fds). */
  maxConnections: z.number().int().min(1).max(1024).default(64),
  /**
   * Open connections per peer uid other than root, authorized or being refused
   * (a refusal lingers up to 2 s so the peer can read why). The socket is
   * world-connectable: without this one local user, enrolled or not, could
   * hold every slot the helper has and starve the others. More are closed unanswered.
   */
  maxConnectionsPerUid: z.number().int().min(1).max(1024).default(16),
  /** A frame begun must finish within this; stops a slow-loris client from pinning buffers. */
  frameDeadlineMs: z.number().int().min(10).max(600_000).default(5_000),
  /** A connection silent this long is closed; the client reconnects when it needs to. */
  idleTimeoutMs: z.number().int().min(100).max(3_600_000).default(60_000),
  /**
   * With a socket from a service manager that starts the helper on demand
   * (systemd's .socket, launchd's Sockets), the helper exits after this long
   * with no open connection and no request in flight; the manager keeps the
   * socket and starts it again on the next connection, so nothing is resident
   * while Berth is idle. 0 keeps it running; otherwise 100 ms to 24 h. Never
   * applies to a socket the helper bound itself or to standalone mode, where
   * nothing would start it again.
   */
  idleExitMs: z
    .number()
    .int()
    .min(0)
    .max(86_400_000)
    .refine((ms) => ms === 0 || ms >= 100, { message: 'must be 0 (stay running) or at least 100 ms' })
    .default(30_000),
  /**
   * Audit log files kept, the current one included; the oldest is dropped when the
   * current one is full. With auditFileBytes, the most root's disk gives the log
   * (4 x 8 MiB by default), whatever the enrolled users send.
   */
  auditFiles: z.number().int().min(2).max(MAX_AUDIT_FILES).default(4),
  /** Largest audit log file; at least a few of the longest lines (4 KiB). */
  auditFileBytes: z.number().int().min(16 * 1024).max(1024 * 1024 * 1024).default(8 * 1024 * 1024),
  /** Identical successes within this window of the first are one line plus a count; also the span of a peer's refusal budget. */
  auditRepeatWindowMs: z.number().int().min(1_000).max(86_400_000).default(60_000),
  /** Refusal lines per peer uid per window, across all its connections; the rest are counted. */
  auditRefusalsPerWindow: z.number().int().min(1).max(100_000).default(64),
  /**
   * An installed helper that finds its app gone at start looks again this much
   * later before it removes itself: an update replaces the app by a rename, and
   * a helper woken in that instant must not take it for a removal.
   */
  appGoneConfirmMs: z.number().int().min(0).max(600_000).default(10_000),
});

export type HelperLimits = z.infer<typeof helperLimits>;

/**
 * Longest policy URL accepted. Real policy URLs (a host and a path, maybe a
 * signed query) are far shorter; the cap keeps a pasted blob out of the
 * world-readable config, the logs and the app's settings page.
 */
export const MAX_POLICY_URL_LENGTH = 2048;

/**
 * Loopback hosts after WHATWG URL normalization ("127.1" and "2130706433"
 * become "127.0.0.1"). Only these may be reached over plain http: the
 * traffic then never leaves the machine (a local MDM agent, or a test server).
 */
function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * Why `raw` cannot be the admin's policy URL, or undefined. The backend (as
 * the user, never the helper as root: root stays off the network) fetches
 * it and hands the document to storePolicy, which checks the signature, so
 * integrity never rests on the transport. The rules still matter:
 * - https, or http to loopback only: over plain http anyone on the network
 *   path could withhold a new policy (freezing an old one in force) and
 *   would see which organization the machine belongs to;
 * - no user name or password: the config is world-readable (0644) and the
 *   URL appears in logs and diagnostics, so a credential there would leak;
 * - no fragment, printable ASCII only, bounded: the URL is shown and logged,
 *   and must read the same everywhere.
 */
export function policyUrlProblem(raw: string): string | undefined {
  if (raw.length === 0) return 'must not be empty';
  if (raw.length > MAX_POLICY_URL_LENGTH) return `must be at most ${MAX_POLICY_URL_LENGTH} characters`;
  if (!/^[\x21-\x7e]+$/.test(raw)) return 'must be printable ASCII without spaces (percent-encode anything else)';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute URL, e.g. https://mdm.example.com/berth/policy.json';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `must use https (not ${url.protocol.slice(0, 20)})`;
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    return 'must use https; plain http is allowed only to this machine (localhost, 127.0.0.1, [::1])';
  }
  if (url.username !== '' || url.password !== '') {
    return 'must not contain a user name or password (the config is readable by every user; serve the policy without credentials)';
  }
  if (url.hash !== '' || raw.includes('#')) return 'must not have a #fragment';
  return undefined;
}

/** A validated policy URL, stored in its normalized form so every reader sees the same text. */
export const policyUrlSchema = z
  .string()
  .superRefine((raw, ctx) => {
    const problem = policyUrlProblem(raw);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  })
  .transform((raw) => new URL(raw).href);

/** Absolute and normalized: no '.', '..' or empty components to reinterpret later. */
const absolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => p === '/' || (/^\/[^\0]*[^/]$/.test(p) && !p.split('/').slice(1).some((c) => c === '' || c === '.' || c === '..')), {
    message: 'must be an absolute, normalized path',
  });

/** Most accounts one helper serves: far above a shared workstation's users; bounds the config and every per-uid table. */
export const MAX_ENROLLED_UIDS = 256;

/**
 * An enrolled account. Not root: root is always served and never enrolled.
 * Not 65535 (the 16-bit -1, which systemd and some tools treat as "no
 * user") nor 4294967295 (the 32-bit -1 that chown(2) reads as "unchanged").
 */
export const enrolledUid = z
  .number()
  .int()
  .min(1, { message: 'must be a user other than root (root is always served)' })
  .max(0xfffffffe)
  .refine((uid) => uid !== 0xffff, { message: 'must not be 65535 (the 16-bit "no user")' });

/** Who the helper serves besides root: unique uids, in the order they enrolled. */
export const allowUidsSchema = z
  .array(enrolledUid)
  .min(1, { message: 'must name at least one user' })
  .max(MAX_ENROLLED_UIDS)
  .refine((uids) => new Set(uids).size === uids.length, { message: 'must not repeat a uid' });

const helperConfigShape = z.strictObject({
  socketPath: absolutePath.refine((p) => p.length <= 100, { message: 'must fit in a UNIX socket address (100 bytes)' }),
  /** The enrolled users (root is always served): each enrolled through their own consent and an administrator's password. */
  allowUids: allowUidsSchema,
  auditLogPath: absolutePath.optional(),
  /** Where the app is installed; CLI link targets are computed from it, never taken from a request. */
  appPath: absolutePath.optional(),
  /** The system directory for CLI links. */
  linkDir: absolutePath.default('/usr/local/bin'),
  /** The organization's Ed25519 public key (PEM), recorded at install; policies must be signed by it. */
  orgPublicKey: z
    .string()
    .min(1)
    .max(4096)
    .refine((pem) => isEd25519PublicKey(pem), { message: 'must be an Ed25519 public key (PEM)' })
    .optional(),
  /**
   * Where the organization publishes its signed policy, set by the admin at
   * install (`--policy-url`). Only the backend reads it, to fetch and hand
   * the document to storePolicy; the helper itself never fetches anything.
   */
  policyUrl: policyUrlSchema.optional(),
  /** Root-owned directory for state the user may read but not change (the policy cache). */
  stateDir: absolutePath.default('/var/lib/berth'),
  limits: helperLimits.default(helperLimits.parse({})),
});

/**
 * Installs before several users could enrol wrote one `allowUid`. Such a
 * config still loads, as `allowUids: [uid]`; the next write (an enrolment,
 * an unenrolment, an admin's upgrade) stores the new shape. A file with both
 * keys is refused (the strict shape rejects `allowUid`): which one would be meant?
 */
export function upgradeLegacyConfig(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  if (!Object.prototype.hasOwnProperty.call(input, 'allowUid') || Object.prototype.hasOwnProperty.call(input, 'allowUids')) return input;
  const { allowUid, ...rest } = input as Record<string, unknown>;
  return { ...rest, allowUids: [allowUid] };
}

export const helperConfig = z.preprocess(upgradeLegacyConfig, helperConfigShape);

export type HelperConfig = z.infer<typeof helperConfigShape>;
/** What a config file or flags may hold before defaults are filled in. */
export type HelperConfigInput = z.input<typeof helperConfigShape>;
