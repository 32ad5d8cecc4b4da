/**
 * Berth's block in a hosts file, as pure functions over bytes. Shared: the
 * helper edits the block, the app reads it (capabilities, diagnostics).
 *
 *     # BEGIN berth (managed)
 *     127.0.0.1 localhost
 *     ::1 localhost
 *     127.0.0.1 berth.internal
 *     # END berth
 *
 * Every byte outside the block is the user's and is never touched. The file
 * is handled as latin1 text, which maps each byte to one character and back,
 * so invalid UTF-8 and odd bytes survive exactly.
 *
 * Round trip: ensure appends the block at the end of the file. If the file's
 * last line has no line break, one must be added before the block; ensure
 * then writes BEGIN_ADDED_BREAK instead of BEGIN, and remove takes that
 * break away again (when nothing follows the block), so remove(ensure(x))
 * gives back x byte for byte.
 */
import { ProtocolError } from './protocol/errors';

export const APP_HOSTNAME = 'berth.internal';
export const BEGIN_MARKER = '# BEGIN berth (managed)';
/** The BEGIN marker when ensure had to end the user's last line to start the block. */
export const BEGIN_ADDED_BREAK = '# BEGIN berth (managed; added the line break above)';
export const END_MARKER = '# END berth';

export interface HostsEntry {
  address: string;
  name: string;
}

type Eol = '' | '\n' | '\r\n';

interface Line {
  /** Offset of the line's first character in the text. */
  start: number;
  /** The line without its terminator. */
  text: string;
  eol: Eol;
  /** 1-based, as an editor shows it. */
  number: number;
}

interface Block {
  begin: Line;
  end: Line;
  addedBreak: boolean;
}

interface Parsed {
  text: string;
  lines: Line[];
  /** Lines outside the block: the user's. */
  outside: Line[];
  block: Block | undefined;
}

// A marker is a comment line starting with the words; leading blanks are
// tolerated because editors and tools re-indent, other text is not ours.
const BEGIN_PATTERN = /^[ \t]*#[ \t]*BEGIN berth(?=[ \t(]|$)/;
const END_PATTERN = /^[ \t]*#[ \t]*END berth(?=[ \t]|$)/;
// What glibc treats as field separators on a hosts line; \s would also split
// on latin1 0xA0, which a resolver reads as part of a name.
const FIELD_SEPARATOR = /[ \t\r\f\v]+/;

function splitLines(text: string): Line[] {
  const lines: Line[] = [];
  let start = 0;
  while (start < text.length) {
    const newline = text.indexOf('\n', start);
    const number = lines.length + 1;
    if (newline < 0) {
      lines.push({ start, text: text.slice(start), eol: '', number });
      break;
    }
    const crlf = newline > start && text[newline - 1] === '\r';
    lines.push({ start, text: text.slice(start, crlf ? newline - 1 : newline), eol: crlf ? '\r\n' : '\n', number });
    start = newline + 1;
  }
  return lines;
}

function malformed(where: string, what: string): ProtocolError {
  return new ProtocolError('CONFLICT', `${where} ${what}; fix or remove the berth block by hand, nothing was changed`);
}

function parse(content: Buffer, where: string): Parsed {
  const text = content.toString('latin1');
  const lines = splitLines(text);
  const begins = lines.filter((line) => BEGIN_PATTERN.test(line.text));
  const ends = lines.filter((line) => END_PATTERN.test(line.text));
  // Anything but zero or exactly one BEGIN followed by one END is someone
  // else's edit we cannot read safely: guessing could delete user lines.
  if (begins.length > 1) {
    throw malformed(where, `has more than one berth block (BEGIN markers on lines ${begins.map((l) => l.number).join(', ')})`);
  }
  if (ends.length > 1) {
    throw malformed(where, `has more than one "${END_MARKER}" (lines ${ends.map((l) => l.number).join(', ')})`);
  }
  const [begin] = begins;
  const [end] = ends;
  if (begin === undefined && end === undefined) return { text, lines, outside: lines, block: undefined };
  if (begin === undefined) throw malformed(where, `has "${END_MARKER}" on line ${end!.number} without a BEGIN marker`);
  if (end === undefined) throw malformed(where, `has a berth block starting on line ${begin.number} without "${END_MARKER}"`);
  if (end.number < begin.number) {
    throw malformed(where, `has "${END_MARKER}" on line ${end.number} before its BEGIN marker on line ${begin.number}`);
  }
  const block = { begin, end, addedBreak: begin.text.trim() === BEGIN_ADDED_BREAK };
  const outside = lines.filter((line) => line.number < begin.number || line.number > end.number);
  return { text, lines, outside, block };
}

/** The address and names of a hosts line, or undefined for a blank or comment line. */
function mapping(text: string): { address: string; names: string[] } | undefined {
  const hash = text.indexOf('#');
  const fields = (hash < 0 ? text : text.slice(0, hash)).split(FIELD_SEPARATOR).filter((f) => f.length > 0);
  const [address, ...names] = fields;
  if (address === undefined || names.length === 0) return undefined;
  // Host names are case-insensitive (RFC 4343); addresses are compared canonically.
  return { address: canonicalAddress(address), names: names.map((n) => n.toLowerCase()) };
}

/** ::1 may be spelled 0:0:0:0:0:0:0:1 and still mean ::1 to the resolver. */
function canonicalAddress(address: string): string {
  if (!address.includes(':')) return address;
  try {
    const host = new URL(`http://[${address}]/`).hostname;
    return host.slice(1, -1);
  } catch {
    return address;
  }
}

/**
 * The entries the block must hold, given the user's lines: localhost only
 * where the user has not mapped that address to it already (a duplicate would
 * be harmless but would make the block look like it overrides the user).
 */
export function neededEntries(userLines: readonly string[]): HostsEntry[] {
  const mapped = new Set<string>();
  for (const text of userLines) {
    const m = mapping(text);
    if (m?.names.includes('localhost')) mapped.add(m.address);
  }
  const entries: HostsEntry[] = [];
  if (!mapped.has('127.0.0.1')) entries.push({ address: '127.0.0.1', name: 'localhost' });
  if (!mapped.has('::1')) entries.push({ address: '::1', name: 'localhost' });
  entries.push({ address: '127.0.0.1', name: APP_HOSTNAME });
  return entries;
}

/** Printable ASCII only, and short: the line goes into a one-sentence error message. */
function quoteLine(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?').trim();
  return clean.length > 60 ? `${clean.slice(0, 57)}...` : clean;
}

function renderBlock(entries: readonly HostsEntry[], eol: '\n' | '\r\n', addedBreak: boolean): string {
  const lines = [addedBreak ? BEGIN_ADDED_BREAK : BEGIN_MARKER, ...entries.map((e) => `${e.address} ${e.name}`), END_MARKER];
  return lines.map((line) => line + eol).join('');
}

/** The file's own line ending, so a CRLF file does not get LF lines from us. */
function fileEol(text: string): '\n' | '\r\n' {
  const newline = text.indexOf('\n');
  return newline > 0 && text[newline - 1] === '\r' ? '\r\n' : '\n';
}

/**
 * The content with Berth's block present and up to date. Returns the very
 * same Buffer when nothing needs to change, so the caller can skip the write.
 * Throws CONFLICT when the user maps berth.internal themselves (we do not
 * override the user) or the block is malformed.
 */
export function ensureBlock(content: Buffer, where = 'the hosts file'): Buffer {
  const parsed = parse(content, where);
  for (const line of parsed.outside) {
    const m = mapping(line.text);
    if (m?.names.includes(APP_HOSTNAME)) {
      throw new ProtocolError(
        'CONFLICT',
        `line ${line.number} of ${where} already maps ${APP_HOSTNAME} ("${quoteLine(line.text)}"); ` +
          'Berth will not override it: remove that line by hand to let Berth manage the entry, nothing was changed',
      );
    }
  }
  const entries = neededEntries(parsed.outside.map((line) => line.text));
  const { text, block } = parsed;
  let next: string;
  if (block === undefined) {
    const eol = fileEol(text);
    const addBreak = text.length > 0 && !text.endsWith('\n');
    next = text + (addBreak ? eol : '') + renderBlock(entries, eol, addBreak);
  } else {
    // Rewritten where it is, in the line ending it was written with, keeping
    // the record of an added break so remove can still undo it.
    const eol = block.begin.eol === '\r\n' ? '\r\n' : '\n';
    const endOffset = block.end.start + block.end.text.length + block.end.eol.length;
    next = text.slice(0, block.begin.start) + renderBlock(entries, eol, block.addedBreak) + text.slice(endOffset);
  }
  return next === text ? content : Buffer.from(next, 'latin1');
}

/**
 * The content without Berth's block: exactly what was there before ensure.
 * Returns the very same Buffer when there is no block. Throws CONFLICT on a
 * malformed block rather than guess which lines are the user's.
 */
export function removeBlock(content: Buffer, where = 'the hosts file'): Buffer {
  const { text, block } = parse(content, where);
  if (block === undefined) return content;
  let before = text.slice(0, block.begin.start);
  const after = text.slice(block.end.start + block.end.text.length + block.end.eol.length);
  // The break ensure added ended the user's last line; with lines after the
  // block (the user appended some) it now separates them, so it stays.
  const added = block.begin.eol;
  if (block.addedBreak && after.length === 0 && added !== '' && before.endsWith(added)) {
    before = before.slice(0, -added.length);
  }
  return Buffer.from(before + after, 'latin1');
}

/** The entries inside Berth's block (for diagnostics and tests); [] when there is none. */
export function blockEntries(content: Buffer, where = 'the hosts file'): HostsEntry[] {
  const { lines, block } = parse(content, where);
  if (block === undefined) return [];
  return lines
    .filter((line) => line.number > block.begin.number && line.number < block.end.number)
    .map((line) => mapping(line.text))
    .flatMap((m) => (m === undefined ? [] : m.names.map((name) => ({ address: m.address, name }))));
}

/**
 * Berth's block as its lines, markers included (for diagnostics: only our
 * block, never the user's lines); undefined when there is none.
 */
export function blockLines(content: Buffer, where = 'the hosts file'): string[] | undefined {
  const { lines, block } = parse(content, where);
  if (block === undefined) return undefined;
  return lines.filter((line) => line.number >= block.begin.number && line.number <= block.end.number).map((line) => line.text);
}
