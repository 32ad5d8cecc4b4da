import { z } from 'zod';
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
      : parsed.message !== undefined
        ? `${parsed.result}: ${parsed.message}`
        : parsed.result,
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
