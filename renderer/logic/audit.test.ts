import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openAuditLog, type AuditEntry } from '../../helper/daemon/audit';
import { ERROR_CODES } from '../../common/protocol/errors';
import { formatAuditTime, parseAuditLine } from './audit';

const peer = { uid: 1000, gid: 1000, pid: 4242 };
let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Lines as the helper's own audit writer puts them in the file, so the two cannot drift apart. */
function written(...entries: AuditEntry[]): string[] {
  dir = mkdtempSync(join(tmpdir(), 'berth-audit-view-'));
  const path = join(dir, 'audit.log');
  const log = openAuditLog(path);
  for (const entry of entries) log.write(entry);
  log.close();
  return readFileSync(path, 'utf8').trimEnd().split('\n');
}

describe('the audit log, read for a person', () => {
  it('names each action and what it acted on', () => {
    const rows = written(
      { peer, op: 'bindPort', args: { address: '127.0.0.1', port: 80, protocol: 'tcp' }, result: 'ok' },
      { peer, op: 'bindPort', args: { address: '::1', port: 443, protocol: 'tcp' }, result: 'ok' },
      { peer, op: 'installSymlinks', args: { names: ['berth'] }, result: 'ok' },
      { peer, op: 'ensureHosts', args: {}, result: 'ok' },
      // The connection logs a policy's size and hash, never its text (helper/daemon/connection.ts).
      { peer, op: 'storePolicy', args: { bytes: 31, sha256: 'ab'.repeat(32) }, result: 'ok' },
      { peer, op: 'traceProcesses', args: { seconds: 5 }, result: 'ok' },
    ).map(parseAuditLine);
    expect(rows.map((r) => [r.action, r.detail, r.ok, r.outcome])).toEqual([
      ['Bound a port', '127.0.0.1:80 TCP', true, 'Done'],
      ['Bound a port', '[::1]:443 TCP', true, 'Done'],
      ['Linked CLI tools', 'berth', true, 'Done'],
      ['Added hosts entries', '', true, 'Done'],
      ['Stored the organization policy', '31 bytes', true, 'Done'],
      ['Gathered a performance trace', '5 s', true, 'Done'],
    ]);
    for (const row of rows) expect(row.time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('a refusal says refused or failed and why, in words, not the code; a refused connection names who tried', () => {
    const [port, locked, stranger] = written(
      { peer, op: 'bindPort', args: { address: '127.0.0.1', port: 80, protocol: 'tcp' }, result: 'PORT_IN_USE', message: 'port 80 is in use' },
      { peer, op: 'bindPort', args: { address: '0.0.0.0', port: 443, protocol: 'tcp' }, result: 'LOCKED_BY_POLICY' },
      { peer: { uid: 1001, gid: 1001, pid: 7 }, op: 'connect', result: 'UNAUTHORIZED' },
    ).map(parseAuditLine);
    expect(port).toMatchObject({ ok: false, outcome: 'Failed: port 80 is in use' });
    expect(locked).toMatchObject({ ok: false, outcome: "Refused: the organization's policy does not allow it" });
    expect(stranger).toMatchObject({ action: 'Refused a connection', detail: 'from uid 1001 (pid 7)', ok: false, outcome: 'Refused: this account may not use the helper' });
    // The code is still there, for whoever needs it, in the row's tooltip.
    expect(port!.raw).toContain('"result":"PORT_IN_USE"');
  });

  it('every code the helper can answer with has words', () => {
    for (const code of ERROR_CODES) {
      const row = parseAuditLine(JSON.stringify({ op: 'bindPort', result: code }));
      expect(row.outcome).toMatch(/^(Refused|Failed): [a-z]/);
      expect(row.outcome).not.toContain(code);
    }
  });

  it('a result this version does not know (a newer helper\'s) shows as written', () => {
    expect(parseAuditLine(JSON.stringify({ op: 'bindPort', result: 'EADDRINUSE', message: 'port 80 is in use' })).outcome).toBe('EADDRINUSE: port 80 is in use');
  });

  it('a rate-limited summary says how many more there were', () => {
    const bind = { peer, op: 'bindPort', args: { address: '127.0.0.1', port: 80, protocol: 'tcp' }, result: 'ok' };
    const [many, one, refusals] = written(
      { ...bind, repeated: 999, since: '2026-11-28T04:42:09.263Z', message: 'repeated 999 more times' },
      { ...bind, repeated: 1, message: 'repeated 1 more time' },
      { peer, op: 'invalid', result: 'BAD_REQUEST', repeated: 40, message: '40 more refusals like this from uid 1000 were not logged one by one' },
    ).map(parseAuditLine);
    expect(many).toMatchObject({ action: 'Bound a port', detail: '127.0.0.1:80 TCP', ok: true, outcome: 'Done, 999 more times' });
    expect(one).toMatchObject({ outcome: 'Done, 1 more time' });
    expect(refusals).toMatchObject({ ok: false, outcome: 'Refused: 40 more refusals like this from uid 1000 were not logged one by one' });
  });

  it('an operation this version does not know shows under its own name, its arguments as written', () => {
    const [row] = written({ peer, op: 'rotateKeys', args: { keep: 2, label: 'x' }, result: 'ok' }).map(parseAuditLine);
    expect(row).toMatchObject({ action: 'rotateKeys', detail: 'keep: 2, label: x', ok: true });
    const [named] = written({ peer, op: 'constructor', result: 'UNKNOWN_OP' }).map(parseAuditLine);
    expect(named).toMatchObject({ action: 'constructor', ok: false, outcome: 'Refused: an operation this helper does not know' });
  });

  it.each(['{"time":"2026-11-28T04:42:09.263Z","peer":{"uid":99', 'not json', '{"op":5,"result":"ok"}', '[]'])(
    'a line that does not parse (%j) is shown whole, never dropped',
    (raw) => {
      expect(parseAuditLine(raw)).toEqual({ time: null, action: 'Unreadable entry', detail: raw, ok: false, outcome: '—', raw });
    },
  );

  it('times read in the viewer’s zone, one width for every row', () => {
    const at = new Date(2026, 10, 28, 4, 2, 9);
    expect(formatAuditTime(at.toISOString())).toBe('2026-11-28 04:02:09');
    expect(formatAuditTime(null)).toBe('—');
    expect(formatAuditTime('yesterday')).toBe('yesterday');
  });
});
