import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../common/protocol/errors';
import { APP_HOSTNAME, BEGIN_ADDED_BREAK, BEGIN_MARKER, END_MARKER, blockEntries, ensureBlock, removeBlock, type HostsEntry } from './block';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
const text = (content: Buffer): string => content.toString('latin1');

const LOCALHOST_V4: HostsEntry = { address: '127.0.0.1', name: 'localhost' };
const LOCALHOST_V6: HostsEntry = { address: '::1', name: 'localhost' };
const APP: HostsEntry = { address: '127.0.0.1', name: APP_HOSTNAME };

/** A user line and which localhost mapping (if any) it provides. */
interface UserLine {
  text: string;
  v4?: boolean;
  v6?: boolean;
}

const knownLines: UserLine[] = [
  { text: '127.0.0.1 localhost', v4: true },
  { text: '127.0.0.1\tlocalhost localhost.localdomain   # the usual', v4: true },
  { text: '  127.0.0.1   LocalHost', v4: true },
  { text: '::1 localhost ip6-localhost ip6-loopback', v6: true },
  { text: '0:0:0:0:0:0:0:1\tlocalhost', v6: true },
  { text: '::1 ip6-localhost ip6-loopback' },
  { text: '127.0.1.1 myhost' },
  { text: '# 127.0.0.1 localhost (commented out, so not a mapping)' },
  { text: `#127.0.0.1 ${APP_HOSTNAME} (a comment, not a mapping)` },
  { text: '127.0.0.1 localhost.localdomain' },
  { text: '10.0.0.7 db.test api.test # staging' },
  { text: '' },
  { text: '   ' },
  { text: '\t\t' },
  { text: '# BEGINNING of my own section' },
  { text: 'not-an-address-line' },
  { text: '\xff\xfe caf\xe9 \x80' }, // bytes that are not valid UTF-8
];

// Random lines from an alphabet that cannot spell a marker, localhost or berth.internal.
const randomLine = fc
  .string({ unit: fc.constantFrom('a', 'b', 'c', '1', '0', '.', ':', ' ', '\t', '#', '\r', '\xe9', '\xff', '\x00'), maxLength: 30 })
  .map((t): UserLine => ({ text: t }));

const userLine = fc.oneof(fc.constantFrom(...knownLines), randomLine);

/** Arbitrary user content: lines with LF/CRLF mixed, with or without a final line break. */
const userContent = fc
  .record({
    lines: fc.array(fc.tuple(userLine, fc.constantFrom('\n', '\r\n')), { maxLength: 12 }),
    finalBreak: fc.boolean(),
  })
  .map(({ lines, finalBreak }) => {
    let joined = lines.map(([line, eol]) => line.text + eol).join('');
    if (!finalBreak && lines.length > 0) joined = joined.slice(0, -lines[lines.length - 1]![1].length);
    const expected: HostsEntry[] = [];
    if (!lines.some(([l]) => l.v4)) expected.push(LOCALHOST_V4);
    if (!lines.some(([l]) => l.v6)) expected.push(LOCALHOST_V6);
    expected.push(APP);
    return { content: bytes(joined), expected };
  });

function markerCount(content: Buffer): { begins: number; ends: number } {
  const lines = text(content).split('\n');
  return {
    begins: lines.filter((l) => l.startsWith('# BEGIN berth')).length,
    ends: lines.filter((l) => l.replace(/\r$/, '') === END_MARKER).length,
  };
}

function conflict(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ProtocolError && error.code === 'CONFLICT') return error;
    throw error;
  }
  throw new Error('expected CONFLICT');
}

describe('ensureBlock / removeBlock (properties)', () => {
  it('ensure appends exactly the needed entries in one block and keeps every user byte', () => {
    fc.assert(
      fc.property(userContent, ({ content, expected }) => {
        const ensured = ensureBlock(content);
        expect(blockEntries(ensured)).toEqual(expected);
        expect(markerCount(ensured)).toEqual({ begins: 1, ends: 1 });
        // The user's bytes are a prefix, untouched; then at most one added line break, then the block,
        // all in the line ending of the file's first line.
        const original = text(content);
        const newline = original.indexOf('\n');
        const eol = newline > 0 && original[newline - 1] === '\r' ? '\r\n' : '\n';
        const addedBreak = original.length > 0 && !original.endsWith('\n');
        const block = [addedBreak ? BEGIN_ADDED_BREAK : BEGIN_MARKER, ...expected.map((e) => `${e.address} ${e.name}`), END_MARKER];
        expect(text(ensured)).toBe(original + (addedBreak ? eol : '') + block.map((line) => line + eol).join(''));
      }),
      { numRuns: 500 },
    );
  });

  it('ensure is idempotent: the second ensure returns the very same buffer', () => {
    fc.assert(
      fc.property(userContent, ({ content }) => {
        const once = ensureBlock(content);
        expect(ensureBlock(once)).toBe(once);
      }),
      { numRuns: 500 },
    );
  });

  it('remove after ensure gives back the original bytes exactly', () => {
    fc.assert(
      fc.property(userContent, ({ content }) => {
        expect(text(removeBlock(ensureBlock(content)))).toBe(text(content));
      }),
      { numRuns: 500 },
    );
  });

  it('remove without a block returns the very same buffer', () => {
    fc.assert(
      fc.property(userContent, ({ content }) => {
        expect(removeBlock(content)).toBe(content);
      }),
      { numRuns: 300 },
    );
  });

  it('user lines added after the block stay where they are through ensure and remove', () => {
    fc.assert(
      fc.property(userContent, userContent, ({ content }, { content: appended }) => {
        const ensured = ensureBlock(content);
        const edited = Buffer.concat([ensured, appended]);
        // Still up to date (appended lines never map localhost... unless they do: then the block shrinks).
        const again = ensureBlock(edited);
        expect(ensureBlock(again)).toBe(again);
        const removed = text(removeBlock(again));
        // Everything before the block and everything after it is still there, in order.
        expect(removed.startsWith(text(content))).toBe(true);
        expect(removed.endsWith(text(appended))).toBe(true);
        const between = removed.slice(content.length, removed.length - appended.length);
        // At most the line break ensure added, kept because it now ends the user's line.
        expect(['', '\n', '\r\n']).toContain(between);
        if (appended.length === 0) expect(removed).toBe(text(content));
      }),
      { numRuns: 300 },
    );
  });

  it('a user mapping of berth.internal anywhere outside the block is a CONFLICT naming its line', () => {
    const foreign = fc.constantFrom(`10.1.2.3 ${APP_HOSTNAME}`, `127.0.0.1\tfoo BERTH.internal # mine`, `::1 ${APP_HOSTNAME}`);
    fc.assert(
      fc.property(userContent, foreign, fc.nat(), fc.boolean(), ({ content }, line, at, withBlock) => {
        const base = withBlock ? ensureBlock(content) : content;
        const lines = text(base).split('\n');
        let index = at % (lines.length + 1);
        // Only outside our block: inside it, the line would be ours to replace.
        const begin = lines.findIndex((l) => l.startsWith('# BEGIN berth'));
        const end = lines.findIndex((l) => l.startsWith(END_MARKER));
        if (begin >= 0 && index > begin && index <= end) index = begin;
        lines.splice(index, 0, line);
        const withForeign = bytes(lines.join('\n'));
        const error = conflict(() => ensureBlock(withForeign, '/etc/hosts'));
        expect(error.message).toContain(`line ${index + 1} of /etc/hosts`);
        // Removing our block does not care about the user's own mapping.
        expect(() => removeBlock(withForeign)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });
});

describe('ensureBlock / removeBlock (examples)', () => {
  it('writes the block in the file’s CRLF line endings', () => {
    const content = bytes('127.0.0.1 localhost\r\n# mine\r\n');
    expect(text(ensureBlock(content))).toBe(
      `127.0.0.1 localhost\r\n# mine\r\n${BEGIN_MARKER}\r\n::1 localhost\r\n127.0.0.1 ${APP_HOSTNAME}\r\n${END_MARKER}\r\n`,
    );
  });

  it('records an added line break in the BEGIN marker and takes it away again', () => {
    const content = bytes('10.0.0.1 a.test');
    const ensured = ensureBlock(content);
    expect(text(ensured)).toBe(
      `10.0.0.1 a.test\n${BEGIN_ADDED_BREAK}\n127.0.0.1 localhost\n::1 localhost\n127.0.0.1 ${APP_HOSTNAME}\n${END_MARKER}\n`,
    );
    expect(text(removeBlock(ensured))).toBe('10.0.0.1 a.test');
  });

  it('an empty file gets just the block, and remove empties it again', () => {
    const ensured = ensureBlock(Buffer.alloc(0));
    expect(text(ensured).startsWith(`${BEGIN_MARKER}\n`)).toBe(true);
    expect(removeBlock(ensured).length).toBe(0);
  });

  it('refreshes a stale block in place when the user adds localhost lines themselves', () => {
    const ensured = ensureBlock(bytes('# top\n'));
    const edited = bytes(`127.0.0.1 localhost\n::1 localhost\n${text(ensured)}# after\n`);
    const refreshed = ensureBlock(edited);
    expect(blockEntries(refreshed)).toEqual([APP]);
    expect(text(refreshed)).toBe(`127.0.0.1 localhost\n::1 localhost\n# top\n${BEGIN_MARKER}\n127.0.0.1 ${APP_HOSTNAME}\n${END_MARKER}\n# after\n`);
  });

  it.each([
    ['a BEGIN without an END', `a\n${BEGIN_MARKER}\n127.0.0.1 ${APP_HOSTNAME}\n`, /starting on line 2 without/],
    ['two BEGIN markers', `${BEGIN_MARKER}\n${BEGIN_MARKER}\n${END_MARKER}\n`, /more than one berth block \(BEGIN markers on lines 1, 2\)/],
    ['two END markers', `${BEGIN_MARKER}\n${END_MARKER}\n${END_MARKER}\n`, /more than one "# END berth"/],
    ['an END without a BEGIN', `a\n${END_MARKER}\n`, /on line 2 without a BEGIN/],
    ['an END before the BEGIN', `${END_MARKER}\n${BEGIN_MARKER}\n`, /before its BEGIN marker/],
  ])('refuses a malformed block: %s', (_label, content, message) => {
    for (const op of [ensureBlock, removeBlock]) {
      const error = conflict(() => op(bytes(content)));
      expect(error.message).toMatch(message);
      expect(error.message).toContain('fix or remove the berth block by hand');
    }
  });
});
