/**
 * Test-only readers for what the generators write, kept apart from them on
 * purpose: a reader that shared code with the writer would agree with its bugs.
 * Each is strict (anything outside the subset we write is an error), and the
 * real tools (xmllint, systemd) check the same files independently.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { installLayout, SERVICE_LABEL } from '../../../common/paths';
import type { ServiceSpec } from './spec';

/** The macOS install's service, as install.ts builds it (a bundled helper run by a root-owned node). */
export const DARWIN_SPEC: ServiceSpec = {
  label: SERVICE_LABEL,
  helperCommand: ['/usr/local/bin/node', `${installLayout('darwin').helperDir}/berth-helper.js`, 'serve', '--config', installLayout('darwin').configPath],
  socketPath: installLayout('darwin').socketPath,
};

export type ParsedPlist = string | bigint | boolean | ParsedPlist[] | { [key: string]: ParsedPlist };

const PLIST_PROLOG =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n' +
  '<plist version="1.0">';

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Parses the plist subset launchd.ts writes: dict, array, key, string, integer, true, false. */
export function parsePlist(xml: string): ParsedPlist {
  if (!xml.startsWith(PLIST_PROLOG)) throw new Error('plist: missing or different XML declaration / DOCTYPE / <plist version="1.0">');
  let pos = PLIST_PROLOG.length;
  const skipSpace = (): void => {
    while (pos < xml.length && /\s/.test(xml[pos]!)) pos++;
  };
  const expect = (token: string): void => {
    skipSpace();
    if (!xml.startsWith(token, pos)) throw new Error(`plist: expected ${token} at ${pos}, found ${JSON.stringify(xml.slice(pos, pos + 20))}`);
    pos += token.length;
  };
  const text = (close: string): string => {
    const end = xml.indexOf(close, pos);
    if (end < 0) throw new Error(`plist: unterminated element, expected ${close}`);
    const raw = xml.slice(pos, end);
    pos = end + close.length;
    if (raw.includes('<')) throw new Error('plist: markup inside a text element');
    return raw.replace(/&([a-z]*);?/g, (whole, name: string) => {
      const value = ENTITIES[name];
      if (value === undefined || !whole.endsWith(';')) throw new Error(`plist: bad entity ${whole}`);
      return value;
    });
  };
  const value = (): ParsedPlist => {
    skipSpace();
    const tag = /^<(dict|array|string|integer|true\/|false\/)>/.exec(xml.slice(pos));
    if (tag === null) throw new Error(`plist: expected a value at ${pos}, found ${JSON.stringify(xml.slice(pos, pos + 20))}`);
    pos += tag[0].length;
    switch (tag[1]) {
      case 'true/':
        return true;
      case 'false/':
        return false;
      case 'string':
        return text('</string>');
      case 'integer': {
        const digits = text('</integer>');
        if (!/^-?\d+$/.test(digits)) throw new Error(`plist: bad integer ${digits}`);
        return BigInt(digits);
      }
      case 'array': {
        const items: ParsedPlist[] = [];
        for (skipSpace(); !xml.startsWith('</array>', pos); skipSpace()) items.push(value());
        pos += '</array>'.length;
        return items;
      }
      default: {
        const dict: { [key: string]: ParsedPlist } = {};
        for (skipSpace(); !xml.startsWith('</dict>', pos); skipSpace()) {
          expect('<key>');
          const key = text('</key>');
          if (Object.hasOwn(dict, key)) throw new Error(`plist: duplicate key ${key}`);
          dict[key] = value();
        }
        pos += '</dict>'.length;
        return dict;
      }
    }
  };
  const root = value();
  expect('</plist>');
  if (xml.slice(pos) !== '\n') throw new Error('plist: trailing content after </plist>');
  return root;
}

/** A unit file as sections of [key, value] pairs, in order, duplicates kept. */
export type ParsedUnit = Record<string, Array<[string, string]>>;

/** Parses unit-file syntax strictly: sections, Key=Value, comments, blank lines; no continuations. */
export function parseUnit(text: string): ParsedUnit {
  if (!text.endsWith('\n')) throw new Error('unit: no final newline');
  const unit: ParsedUnit = {};
  let section: Array<[string, string]> | undefined;
  for (const [index, line] of text.slice(0, -1).split('\n').entries()) {
    const where = `unit line ${index + 1}`;
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    // systemd would join the next line onto this one.
    if (line.endsWith('\\')) throw new Error(`${where}: continuation line`);
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header !== null) {
      if (Object.hasOwn(unit, header[1]!)) throw new Error(`${where}: section [${header[1]}] repeated`);
      section = unit[header[1]!] = [];
      continue;
    }
    const pair = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    if (pair === null) throw new Error(`${where}: not Key=Value: ${JSON.stringify(line)}`);
    if (section === undefined) throw new Error(`${where}: key before any section`);
    section.push([pair[1]!, pair[2]!]);
  }
  return unit;
}

/** Keys of a section mapped to their values (a repeated key would show as a longer array). */
export function sectionTable(unit: ParsedUnit, name: string): Record<string, string[]> {
  const table: Record<string, string[]> = {};
  for (const [key, value] of unit[name] ?? []) (table[key] ??= []).push(value);
  return table;
}

/**
 * Splits an ExecStart= value the way systemd does for what we write: words
 * separated by spaces, each either bare or double-quoted with '\\' and '\"'
 * escapes. Anything else (other escapes, '%', '$', single quotes) is an error.
 */
export function parseExecStart(line: string): string[] {
  const words: string[] = [];
  let pos = 0;
  while (pos < line.length) {
    if (line[pos] === ' ') {
      pos++;
      continue;
    }
    let word = '';
    if (line[pos] === '"') {
      for (pos++; ; pos++) {
        const ch = line[pos];
        if (ch === undefined) throw new Error('ExecStart: unterminated quote');
        if (ch === '"') break;
        if (ch === '\\') {
          const next = line[++pos];
          if (next !== '\\' && next !== '"') throw new Error(`ExecStart: unexpected escape \\${next ?? ''}`);
          word += next;
        } else word += ch;
      }
      pos++;
      if (pos < line.length && line[pos] !== ' ') throw new Error('ExecStart: closing quote not followed by a space');
    } else {
      const end = line.indexOf(' ', pos);
      word = line.slice(pos, end < 0 ? line.length : end);
      pos += word.length;
      if (/["'\\]/.test(word)) throw new Error(`ExecStart: quote or backslash inside a bare word: ${word}`);
    }
    if (/[%$]/.test(word)) throw new Error(`ExecStart: systemd would expand ${word}`);
    words.push(word);
  }
  return words;
}

/** A tool the suite needs; missing is a failure that says what to install, never a silent skip. */
export function requireTool(candidates: string[], aptPackage: string): string {
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined) throw new Error(`${candidates[0]} is missing: install the "${aptPackage}" package (scripts/test-deps.sh)`);
  return found;
}

export interface ToolRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: string[], options: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {}): ToolRun {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * The block systemd's `--test` dump prints for one unit, as key -> values
 * ("\t\tKey: value" lines; repeated keys collect), plus each ExecStart
 * command line as systemd re-quotes it.
 */
export function dumpedUnit(dump: string, name: string): { keys: Record<string, string[]>; commandLines: string[] } {
  const start = dump.indexOf(`-> Unit ${name}:\n`);
  if (start < 0) throw new Error(`systemd --test printed no unit ${name}`);
  const rest = dump.slice(start + 1);
  const next = rest.search(/\n\t-> Unit /);
  const block = next < 0 ? rest : rest.slice(0, next);
  const keys: Record<string, string[]> = {};
  const commandLines: string[] = [];
  for (const line of block.split('\n')) {
    const command = /^\t\t\tCommand Line: (.*)$/.exec(line);
    if (command !== null) commandLines.push(command[1]!);
    const pair = /^\t\t([A-Za-z][A-Za-z0-9]*): (.*)$/.exec(line);
    if (pair !== null) (keys[pair[1]!] ??= []).push(pair[2]!);
  }
  return { keys, commandLines };
}

/** Unquotes systemd's own rendering of a command line (shell-style double quotes, backslash escapes). */
export function parseDumpedCommandLine(line: string): string[] {
  const words: string[] = [];
  for (const match of line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    words.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2]!);
  }
  return words;
}
