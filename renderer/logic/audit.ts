import { z } from 'zod';
import type { ErrorCode } from '../../common/protocol/errors';
import { hostPort } from './format';

/**
 * The helper's audit log, one JSON line per privileged action (helper/daemon/audit.ts
 * writes them), read for a person: when, what, on what, how it ended. A line that
 * does not parse is shown as it is — the log is evidence, nothing in it is hidden.
 * The table reads the current file and, just after a rotation, the previous one
 * (main/core/audit-tail.ts); diagnostics archive every rotated file.
 */
export interface AuditRow {
  /** The ISO time as written, or null when the line has none. */
  time: string | null;
  action: string;
  detail: string;
  ok: boolean;
  outcome: string;
  /** The line as the helper wrote it (the row's tooltip, and all there is when it did not parse). */
  raw: string;
}

const auditLine = z.object({
  time: z.string().optional(),
  peer: z.object({ uid: z.number(), pid: z.number() }).partial().optional(),
  op: z.string(),
  args: z.record(z.string(), z.unknown()).optional(),
  result: z.string(),
  message: z.string().optional(),
  /** A summary line: this many more like it were folded into it (the helper's rate limit). */
  repeated: z.number().int().min(0).optional(),
});

/** What each operation did, as Settings says it. Names not listed (a newer helper's) show as written. */
const ACTION: Record<string, string> = {
  hello: 'Connected',
  bindPort: 'Bound a port',
  installSymlinks: 'Linked CLI tools',
  removeSymlinks: 'Removed CLI tool links',
  ensureHosts: 'Added hosts entries',
  removeHosts: 'Removed hosts entries',
  storePolicy: 'Stored the organization policy',
  traceProcesses: 'Gathered a performance trace',
  uninstall: 'Uninstalled itself',
  connect: 'Refused a connection',
  invalid: 'Refused a malformed request',
};

/**
 * How each of the helper's refusals reads in the Result column: whether it
 * refused or failed, and, when the line carries no message of its own, why.
 * The code itself stays in the row's tooltip (the raw line), not in the words.
 */
const RESULT: Record<ErrorCode, { kind: 'Refused' | 'Failed'; why: string }> = {
  BAD_REQUEST: { kind: 'Refused', why: 'not a valid request' },
  UNKNOWN_OP: { kind: 'Refused', why: 'an operation this helper does not know' },
  UNAUTHORIZED: { kind: 'Refused', why: 'this account may not use the helper' },
  UNSUPPORTED_VERSION: { kind: 'Refused', why: 'the app and the helper are different versions' },
  PORT_IN_USE: { kind: 'Failed', why: 'the port is in use' },
  ADDRESS_UNAVAILABLE: { kind: 'Failed', why: 'the address is not on this machine' },
  PERMISSION_DENIED: { kind: 'Failed', why: 'the system refused it' },
  BUSY: { kind: 'Refused', why: 'the helper was busy' },
  CONFLICT: { kind: 'Refused', why: "something that is not Berth's is in the way" },
  UNSAFE_PATH: { kind: 'Refused', why: "a folder on the way is not root's alone" },
  NOT_CONFIGURED: { kind: 'Refused', why: 'the install did not record what this needs' },
  POLICY_INVALID: { kind: 'Refused', why: 'the policy is not valid' },
  POLICY_STALE: { kind: 'Refused', why: 'the policy is not newer than the one in force' },
  POLICY_EXPIRED: { kind: 'Refused', why: 'the policy has expired' },
  LOCKED_BY_POLICY: { kind: 'Refused', why: "the organization's policy does not allow it" },
  NOT_NEEDED: { kind: 'Refused', why: 'not needed: the app could do it itself' },
  NOT_ALLOWED: { kind: 'Refused', why: "the helper's rules do not allow it" },
  NOT_FOUND: { kind: 'Failed', why: 'nothing matched' },
  READ_ONLY: { kind: 'Failed', why: 'the file system is read-only' },
  NO_SPACE: { kind: 'Failed', why: 'the disk is full' },
  INTERNAL: { kind: 'Failed', why: 'an internal error in the helper' },
};

/** "Refused: port 80 is in use"; a result this version does not know (a newer helper's) shows as written. */
function failureText(result: string, message: string | undefined): string {
  const known = Object.hasOwn(RESULT, result) ? RESULT[result as ErrorCode] : undefined;
  if (known === undefined) return message !== undefined ? `${result}: ${message}` : result;
  return `${known.kind}: ${message ?? known.why}`;
}

const show = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

function describeArgs(op: string, args: Record<string, unknown> | undefined, peer: { uid?: number; pid?: number } | undefined): string {
  if (op === 'connect' && peer?.uid !== undefined) return `from uid ${peer.uid}${peer.pid !== undefined ? ` (pid ${peer.pid})` : ''}`;
  if (args === undefined) return '';
  if (op === 'bindPort' && typeof args.address === 'string' && typeof args.port === 'number') {
    return `${hostPort(args.address, args.port)}${typeof args.protocol === 'string' ? ` ${args.protocol.toUpperCase()}` : ''}`;
  }
  if (Array.isArray(args.names)) return args.names.map(show).join(', ');
  if (op === 'storePolicy' && typeof args.bytes === 'number') return `${args.bytes} bytes`;
  if (op === 'traceProcesses' && typeof args.seconds === 'number') return `${args.seconds} s`;
  return Object.entries(args)
    .map(([key, value]) => `${key}: ${show(value)}`)
    .join(', ');
}

export function parseAuditLine(raw: string): AuditRow {
  let parsed: z.infer<typeof auditLine> | undefined;
  try {
    const result = auditLine.safeParse(JSON.parse(raw));
    if (result.success) parsed = result.data;
  } catch {
    // Not JSON (a truncated last line, say): shown raw below.
  }
  if (parsed === undefined) return { time: null, action: 'Unreadable entry', detail: raw, ok: false, outcome: '—', raw };
  const ok = parsed.result === 'ok';
  return {
    time: parsed.time ?? null,
    // Own keys only: an op named "constructor" is shown as written, not as Object's function.
    action: Object.hasOwn(ACTION, parsed.op) ? ACTION[parsed.op]! : parsed.op,
    detail: describeArgs(parsed.op, parsed.args, parsed.peer),
    ok,
    outcome: ok
      ? parsed.repeated !== undefined
        ? `Done, ${parsed.repeated} more ${parsed.repeated === 1 ? 'time' : 'times'}`
        : 'Done'
      : failureText(parsed.result, parsed.message),
    raw,
  };
}

/** "2026-11-28 04:42:09" in the viewer's time zone: sortable, the same width on every row. */
export function formatAuditTime(iso: string | null): string {
  if (iso === null) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}
