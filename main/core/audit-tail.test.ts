import { mkdirSync, readdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { openAuditLog } from '../../helper/daemon/audit';
import { safeScratchDir } from '../../test/support/scratch';
import { readAuditTail } from './audit-tail';

const FILE_BYTES = 16 * 1024;
let dir: string;
let path: string;

beforeEach(() => {
  dir = join(safeScratchDir('berth-audit-tail'), 'log');
  mkdirSync(dir, { mode: 0o755 });
  path = join(dir, 'audit.log');
});

/** Writes records numbered from..to with the helper's own writer, rotating as it does. */
function write(from: number, to: number): void {
  const log = openAuditLog(path, { files: 3, fileBytes: FILE_BYTES });
  for (let n = from; n < to; n++) log.write({ peer: { uid: 1000, gid: 1000, pid: 1 }, op: 'bindPort', args: { port: n }, result: 'ok' });
  log.close();
}

const ports = (lines: string[]): number[] => lines.map((l) => (JSON.parse(l) as { args: { port: number } }).args.port);

describe("Settings' audit table reads the rotated log", () => {
  it('no log yet: no lines, no error', () => {
    expect(readAuditTail(path, 100)).toEqual({ lines: [], error: null });
  });

  it('just after a rotation, the current file’s few lines come after the previous file’s last ones', () => {
    // Enough to rotate once and leave a couple of lines in the new file.
    let n = 0;
    while (!readdirSync(dir).includes('audit.log.1') || n < 10) write(n, (n += 10));
    const tail = readAuditTail(path, 100);
    expect(tail.error).toBeNull();
    expect(ports(tail.lines)).toEqual(Array.from({ length: 100 }, (_, i) => n - 100 + i));
    // A short request is served from the current file alone.
    expect(ports(readAuditTail(path, 1).lines)).toEqual([n - 1]);
  });

  it('a current file missing beside a previous one (the helper could not create it) still shows the previous', () => {
    write(0, 5);
    renameSync(path, join(dir, 'audit.log.1'));
    expect(readAuditTail(path, 10)).toEqual({ lines: expect.any(Array), error: null });
    expect(ports(readAuditTail(path, 10).lines)).toEqual([0, 1, 2, 3, 4]);
  });

  it('a symlink at the current name is not followed: the reason is shown', () => {
    writeFileSync(join(dirname(dir), 'secret'), '{"op":"secret","result":"ok"}\n');
    symlinkSync(join(dirname(dir), 'secret'), path);
    const tail = readAuditTail(path, 10);
    expect(tail.lines).toEqual([]);
    expect(tail.error).toMatch(/^the audit log at .*audit\.log cannot be read \(ELOOP\)$/);
  });
});
