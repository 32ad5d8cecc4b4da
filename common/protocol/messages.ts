import { isIP } from 'node:net';
import { z } from 'zod';
import { ERROR_CODES, ProtocolError } from './errors';
import { CLI_TOOLS } from '../cli-tools';

/**
 * The helper wire protocol: one definition of every message, imported by the
 * helper (which trusts nothing) and the client (which trusts only a root peer).
 * Every object schema is strict: an unknown field is an error, not ignored,
 * so a client cannot smuggle meaning past a check that did not know about it.
 */

/** Protocol versions this build speaks. Bump MAX for additive changes. */
export const PROTOCOL_MIN = 1;
export const PROTOCOL_MAX = 1;

/** Deeper nesting than any message needs; refused before parsing so no parser recursion is at stake. */
export const MAX_JSON_DEPTH = 16;

/** Keys that could reach an object's prototype chain if anything ever merged them. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const requestId = z.number().int().min(0).max(0x7fffffff);

/** Printable ASCII, no control characters: it ends up in the audit log. */
const shortLabel = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[\x20-\x7e]+$/, 'must be printable ASCII');

const protocolVersion = z.number().int().min(1).max(1000);

export const helloArgs = z
  .strictObject({
    protocol: z.tuple([protocolVersion, protocolVersion]),
    client: shortLabel,
  })
  .refine((a) => a.protocol[0] <= a.protocol[1], { message: 'protocol range must be [min, max] with min <= max' });

export const helloResult = z.strictObject({
  protocol: protocolVersion,
  helperVersion: shortLabel,
  capabilities: z.array(z.string().max(64)).max(64),
});

/**
 * A literal address only. Hostnames would make root do DNS on a user's
 * behalf (and bind whatever it resolved to); zone ids and ranges are refused.
 */
export const literalAddress = z
  .string()
  .min(2)
  .max(45)
  .refine((s) => isIP(s) !== 0 && !s.includes('%'), { message: 'must be a literal IPv4 or IPv6 address' });

export const port = z.number().int().min(1).max(65535);

export const bindPortArgs = z.strictObject({
  address: literalAddress,
  port,
  protocol: z.enum(['tcp', 'udp']),
});

export const bindPortResult = bindPortArgs;

/** Names from the fixed allowlist only, each at most once. */
const toolNames = z
  .array(z.enum(CLI_TOOLS))
  .min(1)
  .max(CLI_TOOLS.length)
  .refine((names) => new Set(names).size === names.length, { message: 'names must not repeat' });

export const symlinksArgs = z.strictObject({ names: toolNames });

export const installSymlinksResult = z.strictObject({
  linkDir: z.string(),
  links: z.array(
    z.strictObject({ name: z.enum(CLI_TOOLS), target: z.string(), action: z.enum(['created', 'replaced', 'unchanged']) }),
  ),
});

/**
 * 'kept': another account on the machine still wants that link, so it stays
 * (the link directory is shared); `reason` says so in one sentence.
 */
export const removeSymlinksResult = z.strictObject({
  linkDir: z.string(),
  links: z.array(
    z.strictObject({ name: z.enum(CLI_TOOLS), action: z.enum(['removed', 'absent', 'kept']), reason: z.string().max(300).optional() }),
  ),
});

/** No arguments at all: the hosts entries are fixed, nothing comes from the request. */
export const noArgs = z.strictObject({});

export const hostsResult = z.strictObject({
  changed: z.boolean(),
  /** rename: atomic replace; in-place: the file is a mount point, so it was rewritten (backup kept). */
  method: z.enum(['none', 'rename', 'in-place']),
  backupPath: z.string().optional(),
  /** removeHosts only: why the block stayed (another account still wants it). */
  kept: z.string().max(300).optional(),
});

export const MAX_POLICY_BYTES = 60_000;

export const storePolicyArgs = z.strictObject({ policy: z.string().min(1).max(MAX_POLICY_BYTES) });

export const storePolicyResult = z.strictObject({
  organization: z.string(),
  version: z.number().int(),
  expires: z.string(),
});

export const traceArgs = z.strictObject({ seconds: z.number().int().min(1).max(30) });

export const traceProcess = z.strictObject({ pid: z.number().int(), exe: z.string(), threads: z.number().int() });

export const traceResult = z.strictObject({
  processes: z.array(traceProcess),
  samples: z.number().int(),
});

export const uninstallResult = z.strictObject({
  /**
   * 'account': only the caller was unenrolled, and the helper stays for the
   * other accounts on the machine; 'machine': the helper and everything it
   * set up are gone. (Absent from helpers older than several users.)
   */
  scope: z.enum(['account', 'machine']).optional(),
  removed: z.array(z.string()),
  kept: z.array(z.strictObject({ path: z.string(), reason: z.string() })),
});

/** Each operation: its argument and result schemas. The closed set. */
export const OPERATIONS = {
  hello: { args: helloArgs, result: helloResult },
  bindPort: { args: bindPortArgs, result: bindPortResult },
  installSymlinks: { args: symlinksArgs, result: installSymlinksResult },
  removeSymlinks: { args: symlinksArgs, result: removeSymlinksResult },
  ensureHosts: { args: noArgs, result: hostsResult },
  removeHosts: { args: noArgs, result: hostsResult },
  storePolicy: { args: storePolicyArgs, result: storePolicyResult },
  traceProcesses: { args: traceArgs, result: traceResult },
  uninstall: { args: noArgs, result: uninstallResult },
} as const;

export type OperationName = keyof typeof OPERATIONS;
export type OperationArgs<Op extends OperationName> = z.infer<(typeof OPERATIONS)[Op]['args']>;
export type OperationResult<Op extends OperationName> = z.infer<(typeof OPERATIONS)[Op]['result']>;

export const OPERATION_NAMES = Object.keys(OPERATIONS) as OperationName[];

export function isOperationName(op: string): op is OperationName {
  return Object.prototype.hasOwnProperty.call(OPERATIONS, op);
}

export const requestEnvelope = z.strictObject({
  id: requestId,
  op: z.string().min(1).max(64),
  args: z.record(z.string(), z.unknown()),
});

export type RequestEnvelope = z.infer<typeof requestEnvelope>;

export const errorBody = z.strictObject({
  code: z.enum(ERROR_CODES),
  message: z.string().max(1000),
});

/**
 * A progress frame: part of a long operation's output (the trace), sent
 * before its final reply. Carries no `ok`; the request is still running.
 */
export const progressEnvelope = z.strictObject({ id: requestId, progress: z.record(z.string(), z.unknown()) });

export const responseEnvelope = z.union([
  z.strictObject({ id: requestId, ok: z.literal(true), result: z.unknown() }),
  // id is null when the request was too broken to have one.
  z.strictObject({ id: requestId.nullable(), ok: z.literal(false), error: errorBody }),
]);

export type ResponseEnvelope = z.infer<typeof responseEnvelope>;
export type ProgressEnvelope = z.infer<typeof progressEnvelope>;

/** Anything the helper may send: a final reply or a progress frame. */
export const serverFrame = z.union([responseEnvelope, progressEnvelope]);
export type ServerFrame = z.infer<typeof serverFrame>;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON.parse, but refusing prototype-reaching keys anywhere in the document.
 * JSON.parse itself makes "__proto__" an own property (harmless there); the
 * refusal is for whatever code later copies or merges these objects. Keys are
 * checked after parsing (escapes such as "\u005f_proto__" are decoded by then),
 * by an explicit walk rather than a reviver, which would slow every parse.
 */
export function parseJson(body: Buffer): unknown {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new ProtocolError('BAD_REQUEST', 'frame is not valid UTF-8');
  }
  if (exceedsDepth(text, MAX_JSON_DEPTH)) {
    throw new ProtocolError('BAD_REQUEST', `JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError('BAD_REQUEST', 'frame is not valid JSON');
  }
  const forbidden = findForbiddenKey(value);
  if (forbidden !== undefined) {
    throw new ProtocolError('BAD_REQUEST', `key "${forbidden}" is not allowed`);
  }
  return value;
}

/** Depth-first walk with an explicit stack; depth is already bounded by exceedsDepth. */
function findForbiddenKey(root: unknown): string | undefined {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null) continue;
    if (Array.isArray(node)) {
      for (const item of node) stack.push(item);
      continue;
    }
    for (const key of Object.keys(node)) {
      if (FORBIDDEN_KEYS.has(key)) return key;
      stack.push((node as Record<string, unknown>)[key]);
    }
  }
  return undefined;
}

/** Counts bracket depth outside strings; a linear scan with no recursion. */
function exceedsDepth(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return false;
}

/** Turns a zod failure into one short line naming the field, for the error message. */
export function describeIssues(error: z.ZodError): string {
  const first = error.issues[0];
  if (first === undefined) return 'invalid';
  const where = first.path.length > 0 ? first.path.join('.') : 'request';
  return `${where}: ${first.message}`;
}

/** Validates a parsed request envelope and its op's args. Throws ProtocolError. */
export function validateRequest(value: unknown): { id: number; op: OperationName; args: unknown } {
  const envelope = requestEnvelope.safeParse(value);
  if (!envelope.success) {
    throw new ProtocolError('BAD_REQUEST', describeIssues(envelope.error));
  }
  const { id, op, args } = envelope.data;
  if (!isOperationName(op)) {
    throw new RequestError(id, 'UNKNOWN_OP', `unknown operation "${op.slice(0, 64)}"`);
  }
  const parsed = OPERATIONS[op].args.safeParse(args);
  if (!parsed.success) {
    throw new RequestError(id, 'BAD_REQUEST', `${op} ${describeIssues(parsed.error)}`);
  }
  return { id, op, args: parsed.data };
}

/** A ProtocolError that knows which request it answers. */
export class RequestError extends ProtocolError {
  readonly id: number;

  constructor(id: number, code: ProtocolError['code'], message: string) {
    super(code, message);
    this.id = id;
  }
}
