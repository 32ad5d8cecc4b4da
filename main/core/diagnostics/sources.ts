import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Capabilities } from '../../../common/api/capabilities';
import { BERTH_VERSION } from '../../../common/app-version';
import { auditLogFiles } from '../../../common/audit-log-files';
import { blockLines } from '../../../common/hosts-block';
import { INSTALL_RECORD_NAME } from '../../../common/install-record';
import type { InstallLayout } from '../../../common/paths';
import { parseJson } from '../../../common/protocol/messages';
import { HelperClient, HelperUnavailableError } from '../../helper-client';
import { isSettingKey } from '../settings/keys';
import { readRegularFile, unreadableReason } from './read-file';

/**
 * What goes into a diagnostics archive, one source at a time. Every source
 * either yields entries (raw text, redacted later by the archive writer,
 * before anything touches the disk) or says in one phrase why it was
 * skipped; nothing here throws for a missing or unreadable source.
 */

export interface Entry {
  /** Path inside the archive, e.g. "app-logs/backend.log". */
  name: string;
  content: string;
  /** How it is redacted: JSON structurally, anything else line by line. */
  kind: 'json' | 'lines';
  /** Where it came from (a path, or what produced it). */
  source: string;
  /** Only the file's last MAX_FILE_BYTES were kept. */
  truncated: boolean;
}

export interface Skipped {
  name: string;
  reason: string;
}

export interface Gathered {
  entries: Entry[];
  skipped: Skipped[];
}

/** The latest part of a log is what matters; older bytes are cut, and the manifest says so. */
export const MAX_FILE_BYTES = 8 * 1024 * 1024;
/** A log directory with more files than this is not a log directory we wrote. */
const MAX_FILES_PER_DIR = 32;
/** A hosts file of any plausible size; larger is not read. */
const MAX_HOSTS_BYTES = 64 * 1024 * 1024;

const nothing = (): Gathered => ({ entries: [], skipped: [] });

export function textEntry(name: string, content: string, kind: Entry['kind'], source: string): Gathered {
  return { entries: [{ name, content, kind, source, truncated: false }], skipped: [] };
}

/**
 * One file. `follow`: the user's own settings may be a dotfile manager's
 * symlink; root-owned and log paths are never followed.
 */
export function fileSource(name: string, path: string, kind: Entry['kind'], follow = false): Gathered {
  try {
    const read = readRegularFile(path, { maxBytes: MAX_FILE_BYTES, follow });
    return { entries: [{ name, content: read.bytes.toString('utf8'), kind, source: path, truncated: read.truncated }], skipped: [] };
  } catch (error) {
    return { entries: [], skipped: [{ name, reason: `${path}: ${unreadableReason(error)}` }] };
  }
}

/**
 * The user's settings file, with only the keys the settings schema knows.
 * Berth keeps other keys in the file but never reads them (a newer Berth's
 * settings, or anything a user or a tool put there), so they say nothing
 * about Berth's behaviour and may hold anything at all: no redaction rule
 * could vouch for them. Their number is recorded, not their names.
 */
export function settingsSource(path: string): Gathered {
  const name = 'settings.json';
  const got = fileSource(name, path, 'json', true);
  const [entry] = got.entries;
  if (entry === undefined) return got;
  let value: unknown;
  try {
    // The settings store's own parser: strict UTF-8, bounded nesting, no __proto__ keys.
    value = parseJson(Buffer.from(entry.content));
  } catch {
    value = undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    // Its keys cannot be told apart, so none of it is taken (Berth moves such a file aside when it starts).
    return { entries: [], skipped: [{ name, reason: `${path} is not a JSON object Berth can read, so it was left out` }] };
  }
  const known: Record<string, unknown> = {};
  let left = 0;
  for (const [key, item] of Object.entries(value)) {
    if (isSettingKey(key)) known[key] = item;
    else left++;
  }
  const source = left === 0 ? path : `${path} (${left} key${left === 1 ? '' : 's'} the settings do not know left out)`;
  return { entries: [{ ...entry, content: JSON.stringify(known), source }], skipped: [] };
}

/** A file name as an archive member: printable and plain, whatever the directory held. */
function memberName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** Every regular file in a log directory (not recursive), as `prefix/<name>`. */
export function directorySource(prefix: string, dir: string, exclude: readonly string[] = []): Gathered {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => !exclude.includes(n)).sort();
  } catch (error) {
    return { entries: [], skipped: [{ name: `${prefix}/`, reason: `${dir}: ${unreadableReason(error)}` }] };
  }
  const out = nothing();
  if (names.length === 0) out.skipped.push({ name: `${prefix}/`, reason: `${dir}: no log files` });
  const used = new Set<string>();
  for (const [index, name] of names.entries()) {
    if (index >= MAX_FILES_PER_DIR) {
      out.skipped.push({ name: `${prefix}/`, reason: `${dir}: ${names.length - index} more files not taken (at most ${MAX_FILES_PER_DIR})` });
      break;
    }
    let member = `${prefix}/${memberName(name)}`;
    while (used.has(member)) member += '_';
    used.add(member);
    const got = fileSource(member, join(dir, name), 'lines');
    out.entries.push(...got.entries);
    out.skipped.push(...got.skipped);
  }
  return out;
}

/** Only Berth's block of the hosts file: the rest is the user's and none of our business. */
export function hostsBlockSource(hostsPath: string): Gathered {
  const name = 'hosts-block.txt';
  let content: Buffer;
  try {
    const read = readRegularFile(hostsPath, { maxBytes: MAX_HOSTS_BYTES, follow: true });
    if (read.truncated) return { entries: [], skipped: [{ name, reason: `${hostsPath} is larger than 64 MiB; not read` }] };
    content = read.bytes;
  } catch (error) {
    return { entries: [], skipped: [{ name, reason: `${hostsPath}: ${unreadableReason(error)}` }] };
  }
  let lines: string[] | undefined;
  try {
    lines = blockLines(content, hostsPath);
  } catch (error) {
    return { entries: [], skipped: [{ name, reason: (error as Error).message }] };
  }
  if (lines === undefined) return { entries: [], skipped: [{ name, reason: `${hostsPath} has no Berth block` }] };
  return textEntry(name, lines.join('\n') + '\n', 'lines', hostsPath);
}

/** The install's own records: what was installed (install.json), user mode, the helper's config. */
export function installStateSource(layout: InstallLayout): Gathered {
  const out = nothing();
  for (const got of [
    fileSource('install/install.json', join(layout.stateDir, INSTALL_RECORD_NAME), 'json'),
    fileSource('install/user-mode.json', layout.userModePath, 'json'),
    fileSource('install/helper.json', layout.configPath, 'json'),
  ]) {
    out.entries.push(...got.entries);
    out.skipped.push(...got.skipped);
  }
  return out;
}

/** The helper's logs, minus the audit log's files (their own entries) when they live in the same directory. */
export function helperLogsSource(layout: InstallLayout): Gathered {
  const base = basename(layout.auditLogPath);
  let exclude: string[] = [];
  if (dirname(layout.auditLogPath) === layout.logDir) {
    try {
      exclude = auditLogFiles(base, readdirSync(layout.logDir));
    } catch {
      exclude = [base]; // unreadable: directorySource says so
    }
  }
  return directorySource('helper-logs', layout.logDir, exclude);
}

/**
 * The audit log and every file the helper rotated it into (audit.log.1, …),
 * newest first, each as its own member under its own name: the whole record
 * the helper keeps, at most its configured files x bytes (each file is cut to
 * its last MAX_FILE_BYTES like any log). A directory we may not list still
 * gives the current file, or says why not.
 */
export function auditLogSource(path: string): Gathered {
  const base = basename(path);
  let names: string[];
  try {
    names = auditLogFiles(base, readdirSync(dirname(path)));
  } catch {
    names = [];
  }
  if (!names.includes(base)) names.unshift(base);
  const out = nothing();
  for (const name of names) {
    const got = fileSource(name, join(dirname(path), name), 'lines');
    // Only the current file's absence is news; a rotated one gone between listing and reading is not.
    if (name !== base && got.entries.length === 0) continue;
    out.entries.push(...got.entries);
    out.skipped.push(...got.skipped);
  }
  return out;
}

export interface TraceOptions {
  capabilities: Capabilities;
  helper: (() => Promise<HelperClient | undefined>) | undefined;
  seconds: number;
  /** Seconds of trace done so far. */
  onTick: (seconds: number) => void;
}

/**
 * The helper's privileged trace of this user's Berth processes, streamed in
 * frames; gathered only where a helper runs (not in user mode, not without
 * one). The connection is ours to close.
 */
export async function traceSource(options: TraceOptions): Promise<Gathered> {
  const name = 'trace.jsonl';
  const skip = (reason: string): Gathered => ({ entries: [], skipped: [{ name, reason }] });
  const { helper: state } = options.capabilities;
  if (options.seconds === 0) return skip('not asked for (trace seconds 0)');
  if (state.state === 'user-mode') return skip('user mode: no privileged diagnostics trace is gathered');
  if (state.state !== 'running' && state.state !== 'needs-update') return skip(`the trace needs the helper. ${state.message}`);
  if (options.helper === undefined) return skip('no helper connection was available');
  let client: HelperClient | undefined;
  try {
    client = await options.helper();
  } catch (error) {
    return skip(`cannot reach the helper: ${(error as Error).message}`);
  }
  if (client === undefined) return skip('the helper is not running');
  const lines: string[] = [];
  try {
    const result = await client.request('traceProcesses', { seconds: options.seconds }, (frame) => {
      lines.push(JSON.stringify({ progress: frame }));
      const t = typeof frame.t === 'number' ? frame.t : 0;
      options.onTick(Math.min(t, options.seconds));
    });
    lines.push(JSON.stringify({ result }));
  } catch (error) {
    return skip(`the helper did not trace: ${(error as Error).message}`);
  } finally {
    client.close();
  }
  return textEntry(name, lines.join('\n') + '\n', 'lines', `the helper's traceProcesses (${options.seconds} s)`);
}

/**
 * Connects to the helper for the trace, or undefined when none runs:
 * what the CLI and the backend pass as `helper`.
 */
export function helperConnector(socketPath: string): () => Promise<HelperClient | undefined> {
  return async () => {
    try {
      return await HelperClient.connect(socketPath, { clientName: `berth/${BERTH_VERSION} diagnostics` });
    } catch (error) {
      if (error instanceof HelperUnavailableError) return undefined;
      throw error;
    }
  };
}
