import { isIP } from 'node:net';
import { ApiError } from '../api/backend-api';
import { mappingKey, mappingSpec, protocolOf, targetHost, withProtocol, type MappingKey, type MappingProtocol, type MappingSpec } from './mapping';
import { forwardsToItself, selfLoopMessage } from './self-loop';

/**
 * Port specs as people type them on the command line (`berth run -p`,
 * `berth ports add`), parsed into the shared mapping schemas. Every
 * refusal is an ApiError('INVALID') whose message is one sentence saying
 * what was wrong and what to type instead.
 *
 * Listen address:  [ADDR:]PORT[/tcp|/udp]
 *     80                 127.0.0.1:80 (the default address is loopback: nothing is exposed by accident)
 *     0.0.0.0:80         every IPv4 address of this machine
 *     [::1]:8443         IPv6 literals go in brackets
 *     53/udp             UDP port 53 on 127.0.0.1 (Docker's suffix; TCP without one)
 *   ADDR is a literal IP address, never a name: a listen address is not resolved.
 *
 * Mapping:  [ADDR:]PORT=[TARGETHOST:]TARGETPORT
 *     80=8080                      127.0.0.1:80 -> 127.0.0.1:8080
 *     127.0.0.1:80=localhost:8080
 *     [::1]:443=[::1]:8443
 *   `=` separates where Berth listens from where it forwards, so no colon is
 *   ever ambiguous. TARGETHOST is a hostname or a literal address (IPv6 in
 *   brackets); it defaults to 127.0.0.1.
 *
 * Docker's mapping (what people type out of habit):  [ADDR:]HOST_PORT:TARGET_PORT[/tcp|/udp]
 *     8080:80              127.0.0.1:8080 -> 127.0.0.1:80
 *     0.0.0.0:8080:80      0.0.0.0:8080 -> 127.0.0.1:80
 *     [::1]:8080:80        [::1]:8080 -> 127.0.0.1:80
 *     5353:53/udp          UDP 127.0.0.1:5353 -> 127.0.0.1:53
 *   HOST_PORT is where Berth listens, TARGET_PORT is forwarded to on the
 *   default target host. `/tcp` or `/udp` may end either form (TCP when
 *   absent); the target is reached with the same protocol. parseMappingInput
 *   says how a Docker-form input was understood, so the CLI and the form can
 *   show it.
 */

export const DEFAULT_LISTEN_ADDRESS = '127.0.0.1';
export const DEFAULT_TARGET_HOST = '127.0.0.1';

/** Longest spec we look at: anything longer is not a port spec (and would only make long error messages). */
const MAX_SPEC_LENGTH = 600;

function invalid(message: string): ApiError {
  return new ApiError('INVALID', message);
}

/** A string quoted for an error message, cut short so a pasted blob stays one readable line. */
function shown(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}

/** `[v6]` or `host`: an address (or name) with an optional port after the last colon. */
interface HostPort {
  host: string | undefined;
  port: string;
  bracketed: boolean;
}

/** Splits `[ADDR:]PORT` (brackets for IPv6) without judging the parts yet. */
function splitHostPort(text: string, what: string, example: string): HostPort {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw invalid(`${what} ${shown(text)} has "[" without "]"; write IPv6 addresses as ${example}`);
    const rest = text.slice(close + 1);
    if (!rest.startsWith(':')) throw invalid(`${what} ${shown(text)} needs ":PORT" after the bracketed address, e.g. ${example}`);
    return { host: text.slice(1, close), port: rest.slice(1), bracketed: true };
  }
  const colons = text.split(':').length - 1;
  if (colons === 0) return { host: undefined, port: text, bracketed: false };
  if (colons > 1) {
    throw invalid(`${what} ${shown(text)} is ambiguous; write an IPv6 address in brackets, e.g. ${example}`);
  }
  const at = text.indexOf(':');
  return { host: text.slice(0, at), port: text.slice(at + 1), bracketed: false };
}

/** A TCP port: decimal digits, 1-65535. */
export function parsePort(text: string, what = 'port'): number {
  if (!/^[0-9]+$/.test(text)) {
    throw invalid(text === '' ? `${what} is missing; give a number 1-65535` : `${what} must be a number 1-65535 (got ${shown(text)})`);
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1 || value > 65535) {
    throw invalid(`${what} must be 1-65535 (got ${text.length > 12 ? `${text.slice(0, 12)}…` : text})`);
  }
  return value;
}

/** The refusal for a listen address that is not a literal IP address. */
function notAnAddress(host: string): ApiError {
  if (host.includes('%')) {
    return invalid(`${shown(host)} has a zone id; use an address without "%…" (zone ids are not supported)`);
  }
  return invalid(
    `${host.length > 60 ? shown(host) : host} is not an IP address; use a literal address such as 127.0.0.1 (hostnames are not resolved for a listen address)`,
  );
}

/** Checks a listen address the way the schema does, with a sentence instead of a schema issue. */
function checkListenAddress(host: string, bracketed: boolean): string {
  if (host === '') throw invalid('the listen address is empty; leave it out for 127.0.0.1, or give one such as 0.0.0.0');
  const family = isIP(host);
  if (family === 0 || host.includes('%')) throw notAnAddress(host);
  if (family === 6 && !bracketed) throw invalid(`write the IPv6 address ${host} in brackets, e.g. [${host}]:80`);
  if (family === 4 && bracketed) throw invalid(`only IPv6 addresses go in brackets; write ${host} without them`);
  return host;
}

/** Docker's `/tcp` or `/udp` suffix, split off (TCP when there is none); anything else after "/" is refused with a sentence. */
function splitProtocol(spec: string): { spec: string; protocol: MappingProtocol } {
  const slash = spec.lastIndexOf('/');
  if (slash < 0) return { spec, protocol: 'tcp' };
  const protocol = spec.slice(slash + 1).toLowerCase();
  const base = spec.slice(0, slash);
  if ((protocol === 'tcp' || protocol === 'udp') && base.includes('/')) {
    throw invalid(`${shown(spec)} has more than one "/"; give the protocol once, at the end, e.g. 5353:53/udp`);
  }
  if (protocol === 'tcp' || protocol === 'udp') return { spec: base, protocol };
  const early = /^(tcp|udp)=(.*)$/.exec(protocol);
  if (early) {
    // `53/udp=53`: the protocol is said once, at the end of the mapping, as in Docker's form.
    throw invalid(`put /${early[1]} at the end of the mapping, e.g. ${shown(`${base}=${spec.slice(slash + 5)}/${early[1]}`)}`);
  }
  if (protocol === '') throw invalid(`${shown(spec)} ends in "/" without a protocol; write /tcp or /udp, or leave it out for TCP`);
  throw invalid(`${shown(spec)} ends in an unknown protocol; write /tcp or /udp, or leave it out for TCP`);
}

/** A mapping where only a listen address belongs: `8080:80` (Docker's form) or `80=8080`. */
export function looksLikeMapping(text: string): boolean {
  const spec = text.trim().replace(/\/(tcp|udp)$/i, '');
  if (spec.includes('=')) return true;
  if (spec.startsWith('[')) return /^\[[^\]]*\]:[^:]*:/.test(spec);
  const parts = spec.split(':');
  return (parts.length === 2 && /^[0-9]+$/.test(parts[0]!) && /^[0-9]+$/.test(parts[1]!)) || (parts.length === 3 && isIP(parts[0]!) === 4);
}

/**
 * `[ADDR:]PORT[/tcp|/udp]` → {address, port[, protocol: 'udp']}. The address
 * defaults to 127.0.0.1 and must be a literal IPv4 address or a bracketed
 * IPv6 one (`[::1]:80`).
 */
export function parseListen(text: string): MappingKey {
  const trimmed = text.trim();
  if (trimmed === '') throw invalid('the listen address is empty; give [ADDR:]PORT, e.g. 80 or 127.0.0.1:80');
  if (trimmed.length > MAX_SPEC_LENGTH) throw invalid(`the listen address is too long (${trimmed.length} characters)`);
  if (looksLikeMapping(trimmed)) {
    // `8080:80` here would otherwise read as "address 8080": say what it is instead.
    throw invalid(`${shown(trimmed)} is a mapping (where to listen and where to forward); give only where to listen, [ADDR:]PORT, e.g. 80 or 127.0.0.1:80`);
  }
  const { spec, protocol } = splitProtocol(trimmed);
  const parts = splitHostPort(spec, 'listen address', '[::1]:80');
  const address = parts.host === undefined ? DEFAULT_LISTEN_ADDRESS : checkListenAddress(parts.host, parts.bracketed);
  const key = withProtocol<MappingKey>({ address, port: parsePort(parts.port) }, protocol);
  // The shared schema is the final word: what parses here is what the backend accepts.
  const checked = mappingKey.safeParse(key);
  if (!checked.success) throw invalid(`${shown(spec)} is not a valid listen address (${checked.error.issues[0]?.message ?? 'invalid'})`);
  return checked.data;
}

/** Checks a target host like the schema does, with a sentence. */
function checkTargetHost(host: string, bracketed: boolean): string {
  if (host === '') throw invalid('the target host is empty; leave it out for 127.0.0.1, or give one such as localhost');
  const family = isIP(host);
  if (bracketed && family !== 6) throw invalid(`only IPv6 addresses go in brackets (got [${host.length > 60 ? '…' : host}])`);
  if (family === 6 && !bracketed) throw invalid(`write the IPv6 target ${host} in brackets, e.g. [${host}]:8080`);
  if (host.includes('%')) throw invalid(`${shown(host)} has a zone id; zone ids are not supported`);
  if (!targetHost.safeParse(host).success) {
    throw invalid(`the target host ${shown(host)} is not a valid hostname or IP address`);
  }
  return host;
}

/** `[HOST:]PORT` for a target; the host defaults to 127.0.0.1. */
export function parseTarget(text: string): MappingSpec['target'] {
  const spec = text.trim();
  if (spec === '') throw invalid('the target is empty; give [HOST:]PORT, e.g. 8080 or localhost:8080');
  const parts = splitHostPort(spec, 'target', '[::1]:8080');
  const host = parts.host === undefined ? DEFAULT_TARGET_HOST : checkTargetHost(parts.host, parts.bracketed);
  return { host, port: parsePort(parts.port, 'target port') };
}

const BOTH_FORMS = 'write [ADDR:]PORT=[HOST:]PORT or Docker\'s [ADDR:]HOST_PORT:TARGET_PORT';

/** A target port for an example that is not the listen port (an example must never forward to itself). */
function exampleTarget(listen: string): string {
  return listen === '8080' ? '3000' : '8080';
}

/** The refusal for a listen address alone where a mapping was asked for. */
function noTarget(spec: string, example: string): ApiError {
  return invalid(`${shown(spec)} says where to listen but not where to forward; ${BOTH_FORMS}, e.g. ${example}`);
}

/** Docker's `[ADDR:]HOST_PORT:TARGET_PORT` (IPv6 ADDR in brackets); the target host is the default one. */
function parseDockerMapping(spec: string): MappingSpec {
  let address: string | undefined;
  let bracketed = false;
  let rest = spec;
  if (spec.startsWith('[')) {
    const close = spec.indexOf(']');
    if (close < 0) throw invalid(`${shown(spec)} has "[" without "]"; write IPv6 addresses in brackets, e.g. [::1]:8080:80`);
    if (spec[close + 1] !== ':') throw invalid(`${shown(spec)} needs ":PORT" after the bracketed address, e.g. [::1]:8080:80`);
    address = spec.slice(1, close);
    bracketed = true;
    rest = spec.slice(close + 2);
  }
  const parts = rest.split(':');
  if (!bracketed && parts.length === 3) address = parts.shift();
  if (parts.length > 2) {
    throw invalid(bracketed ? `${shown(spec)} has too many ":"; ${BOTH_FORMS}, e.g. [::1]:8080:80` : `${shown(spec)} is ambiguous; write an IPv6 address in brackets, e.g. [::1]:8080:80`);
  }
  if (parts.length === 1) {
    const listen = /^[0-9]{1,5}$/.test(parts[0]!) ? parts[0]! : '8080';
    throw noTarget(spec, `${bracketed ? `[${address ?? '::1'}]:` : ''}${listen}:${exampleTarget(listen)}`);
  }
  const [hostPort, targetPort] = parts as [string, string];
  if (address === undefined && !/^[0-9]*$/.test(hostPort)) {
    // `127.0.0.1:80`: Berth's listen address alone, not Docker's HOST_PORT:TARGET_PORT.
    const listen = /^[0-9]{1,5}$/.test(targetPort) ? targetPort : '8080';
    throw noTarget(spec, isIP(hostPort) === 4 ? `${hostPort}:${listen}=${exampleTarget(listen)}` : '8080:80');
  }
  if (hostPort === '') {
    throw invalid(`${shown(spec)} has no port to listen on; Berth does not pick one for you, so give it, e.g. ${address !== undefined ? `${bracketed ? `[${address}]` : address}:` : ''}8080:${targetPort || '80'}`);
  }
  const listen = address === undefined ? DEFAULT_LISTEN_ADDRESS : checkListenAddress(address, bracketed);
  return { address: listen, port: parsePort(hostPort, 'host port'), target: { host: DEFAULT_TARGET_HOST, port: parsePort(targetPort, 'target port') } };
}

/** A parsed mapping, and how an input in Docker's form was understood (to show once). */
export interface ParsedMapping {
  spec: MappingSpec;
  /** e.g. `Understood "8080:80" as 127.0.0.1:8080 → 127.0.0.1:80.`; absent for Berth's `=` form. */
  understood?: string;
}

/**
 * `[ADDR:]PORT=[TARGETHOST:]TARGETPORT` or Docker's `[ADDR:]HOST_PORT:TARGET_PORT`,
 * either with an optional `/tcp` or `/udp` → a mapping spec. A mapping that forwards to
 * itself is refused (the backend checks again, with this machine's addresses).
 */
export function parseMappingInput(text: string): ParsedMapping {
  const trimmed = text.trim();
  if (trimmed === '') throw invalid(`the mapping is empty; ${BOTH_FORMS}, e.g. 8080=80 or 8080:80`);
  if (trimmed.length > MAX_SPEC_LENGTH) throw invalid(`the mapping is too long (${trimmed.length} characters)`);
  const { spec, protocol } = splitProtocol(trimmed);
  const parts = spec.split('=');
  if (parts.length > 2) throw invalid(`${shown(spec)} has more than one "="; write [ADDR:]PORT=[HOST:]PORT, e.g. 127.0.0.1:80=localhost:8080`);
  const docker = parts.length === 1;
  const parsed = docker ? parseDockerMapping(spec) : { ...parseListen(parts[0]!), target: parseTarget(parts[1]!) };
  const mapping = withProtocol(parsed, protocol);
  const checked = mappingSpec.safeParse(mapping);
  if (!checked.success) throw invalid(`${shown(spec)} is not a valid mapping (${checked.error.issues[0]?.message ?? 'invalid'})`);
  if (forwardsToItself(checked.data)) throw invalid(selfLoopMessage(checked.data));
  if (!docker) return { spec: checked.data };
  return { spec: checked.data, understood: `Understood ${shown(trimmed)} as ${formatListen(checked.data)} → ${formatTarget(checked.data.target)}.` };
}

/** parseMappingInput without the note: the spec alone. */
export function parseMapping(text: string): MappingSpec {
  return parseMappingInput(text).spec;
}

/** `/udp` for a UDP key or spec, nothing for TCP. */
function protocolSuffix(key: Pick<MappingKey, 'protocol'>): string {
  return protocolOf(key) === 'udp' ? '/udp' : '';
}

/** Docker's form of a spec whose target is the default host: `127.0.0.1:8080:80`, `[::1]:8080:80`, `127.0.0.1:5353:53/udp`. */
export function formatDockerMapping(spec: MappingSpec): string | undefined {
  return spec.target.host === DEFAULT_TARGET_HOST ? `${bracket(spec.address)}:${spec.port}:${spec.target.port}${protocolSuffix(spec)}` : undefined;
}

function bracket(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** The inverse of parseListen: `127.0.0.1:80`, `[::1]:80`, `127.0.0.1:53/udp`. */
export function formatListen(key: MappingKey): string {
  return `${bracket(key.address)}:${key.port}${protocolSuffix(key)}`;
}

/** A target as the user writes it: `localhost:8080`, `[::1]:8080`. */
export function formatTarget(target: MappingSpec['target']): string {
  return `${bracket(target.host)}:${target.port}`;
}

/** The inverse of parseMapping, always in full: `127.0.0.1:80=localhost:8080`, `127.0.0.1:53=localhost:5353/udp`. */
export function formatMapping(spec: MappingSpec): string {
  return `${bracket(spec.address)}:${spec.port}=${formatTarget(spec.target)}${protocolSuffix(spec)}`;
}

function got(value: unknown): string {
  return typeof value === 'string' ? shown(value) : (JSON.stringify(value) ?? 'nothing');
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

/** The first schema issue of `value`, as the parser would have said it. */
function describeIssue(schema: typeof mappingSpec | typeof mappingKey, value: unknown, what: string): string | undefined {
  const checked = schema.safeParse(value);
  if (checked.success) return undefined;
  const issue = checked.error.issues[0];
  if (issue === undefined) return `the ${what} is not valid`;
  const record = asRecord(value);
  const target = asRecord(record.target);
  const path = issue.path.join('.');
  switch (path) {
    case 'address':
      return typeof record.address === 'string' && record.address !== ''
        ? notAnAddress(record.address).message
        : `the listen address must be a literal IP address such as 127.0.0.1 (got ${got(record.address)})`;
    case 'port':
      return `port must be 1-65535 (got ${got(record.port)})`;
    case 'protocol':
      return `protocol must be "tcp" or "udp" (got ${got(record.protocol)})`;
    case 'target':
      return `the target must be {host, port} (got ${got(record.target)})`;
    case 'target.host':
      return `the target host must be a hostname or an IP address (got ${got(target.host)})`;
    case 'target.port':
      return `target port must be 1-65535 (got ${got(target.port)})`;
    default:
      return `the ${what} is not valid${path ? ` at ${path}` : ''}: ${issue.message}`;
  }
}

/**
 * One sentence for a spec that fails the mappingSpec schema (an API call, a
 * hand-edited file), worded like the parser's; undefined when it is valid.
 */
export function describeSpecProblem(value: unknown): string | undefined {
  return describeIssue(mappingSpec, value, 'mapping');
}

/** The same for a mapping key ({address, port}). */
export function describeKeyProblem(value: unknown): string | undefined {
  return describeIssue(mappingKey, value, 'listen address');
}
