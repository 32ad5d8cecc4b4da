import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../../common/api/backend-api';
import { explainRunHolder, findRunHolder, type HoldCheck } from './run-holder';
import { commandName, readRunRecords, registerRun, type RunRecord } from './run-records';

/**
 * The records themselves, with real files (as root; the reader takes only
 * the running user's files). That the checks name only a process that holds
 * the port, with real runs, users and the helper, is in run-holder.test.ts.
 */

let base: string;
let dir: string;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'berth-runs-'));
  dir = join(base, 'run', 'runs');
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

/** A pid no process has any more: a child that has exited and been reaped. */
async function gonePid(): Promise<number> {
  const child = spawn('true');
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

const record = (runPid: number, over: Partial<RunRecord> = {}): RunRecord => ({
  version: 1,
  runPid,
  pid: runPid,
  command: 'nginx',
  listen: [{ address: '127.0.0.1', port: 80 }],
  ...over,
});

function plant(name: string, content: unknown): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content), { mode: 0o600 });
  return path;
}

describe('registerRun', () => {
  it('writes a 0600 record named after this process in a 0700 folder, and takes it back', () => {
    const unregister = registerRun(dir, { pid: 4242, command: 'nginx', listen: [{ address: '127.0.0.1', port: 80 }] });
    const path = join(dir, `${process.pid}.json`);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(record(process.pid, { pid: 4242 }));
    expect(readdirSync(dir)).toEqual([`${process.pid}.json`]); // no temp file left
    unregister();
    expect(existsSync(path)).toBe(false);
  });

  it("sweeps the records (and crash-left temp files) of runs that are gone, and keeps a live run's", async () => {
    const gone = await gonePid();
    const sleeper = spawn('sleep', ['60']);
    try {
      plant(`${gone}.json`, record(gone));
      plant(`.${gone}.json.0123456789ab.tmp`, 'torn');
      plant(`${sleeper.pid!}.json`, record(sleeper.pid!));
      plant('notes.txt', 'not ours to remove');
      registerRun(dir, { pid: 4242, command: 'nginx', listen: [{ address: '127.0.0.1', port: 80 }] });
      expect(readdirSync(dir).sort()).toEqual([`${process.pid}.json`, `${sleeper.pid!}.json`, 'notes.txt'].sort());
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('gives up quietly where it cannot write (CMD runs all the same), leaving nothing', () => {
    writeFileSync(join(base, 'run'), 'a file where the folder should be');
    const unregister = registerRun(dir, { pid: 4242, command: 'nginx', listen: [{ address: '127.0.0.1', port: 80 }] });
    expect(() => unregister()).not.toThrow();
    expect(readFileSync(join(base, 'run'), 'utf8')).toBe('a file where the folder should be');
  });

  it('refuses to write a record the reader would not accept (no listen address), writing nothing', () => {
    registerRun(dir, { pid: 4242, command: 'nginx', listen: [] });
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('commandName', () => {
  it.each([
    ['/usr/sbin/nginx', 'nginx'],
    ['./my-server', 'my-server'],
    ['evil\nname\u001b[31m', 'evilname[31m'],
    ['x'.repeat(100), 'x'.repeat(64)],
    ['\n', 'a command'],
  ])('%j is said as %j', (cmd, name) => {
    expect(commandName(cmd)).toBe(name);
  });
});

describe('readRunRecords', () => {
  it('reads the valid records', () => {
    plant('101.json', record(101));
    plant('102.json', record(102, { pid: 103, command: 'node', listen: [{ address: '::', port: 53, protocol: 'udp' }] }));
    expect(readRunRecords(dir).sort((a, b) => a.runPid - b.runPid)).toEqual([record(101), record(102, { pid: 103, command: 'node', listen: [{ address: '::', port: 53, protocol: 'udp' }] })]);
  });

  it('is empty without a folder', () => {
    expect(readRunRecords(dir)).toEqual([]);
  });

  it.each([
    ['not JSON', '101.json', '{"version":1,'],
    ['an unknown field', '101.json', { ...record(101), extra: true }],
    ['another version', '101.json', { ...record(101), version: 2 }],
    ['a control character in the command', '101.json', record(101, { command: 'ng\u001binx' })],
    ['a host name to listen on', '101.json', record(101, { listen: [{ address: 'localhost', port: 80 }] })],
    ['a name that is not its writer', '102.json', record(101)],
    ['a name that is not a record', 'record.json', record(101)],
    ['more than 16 KiB (valid JSON all the same)', '101.json', `${JSON.stringify(record(101))}${' '.repeat(20_000)}`],
  ])('skips a file with %s, and leaves it there', (_what, name, content) => {
    const path = plant(name, content);
    expect(readRunRecords(dir)).toEqual([]);
    expect(existsSync(path)).toBe(true);
  });

  it("skips a link (even to a valid record), a FIFO, a folder, and another user's file", () => {
    const elsewhere = join(base, 'elsewhere.json');
    writeFileSync(elsewhere, JSON.stringify(record(101)));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    symlinkSync(elsewhere, join(dir, '101.json'));
    execFileSync('mkfifo', [join(dir, '102.json')]);
    mkdirSync(join(dir, '103.json'));
    chownSync(plant('104.json', record(104)), 65534, 65534);
    expect(readRunRecords(dir)).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(['101.json', '102.json', '103.json', '104.json']);
  });

  it("reads nothing from a folder that is a link, or another user's", () => {
    plant('101.json', record(101));
    const link = join(base, 'link');
    symlinkSync(dir, link);
    expect(readRunRecords(link)).toEqual([]);
    chownSync(dir, 65534, 65534);
    expect(readRunRecords(dir)).toEqual([]);
  });
});

describe('explainRunHolder (the check given)', () => {
  const inUse = new ApiError('PORT_IN_USE', '127.0.0.1:80 is already in use by another program');
  const yes: HoldCheck = () => true;
  const no: HoldCheck = () => false;

  it('names the run when its process holds the port', () => {
    plant('101.json', record(101, { pid: 1234 }));
    expect(explainRunHolder(inUse, { address: '127.0.0.1', port: 80 }, dir, yes)).toMatchObject({
      code: 'PORT_IN_USE',
      message: '127.0.0.1:80 is in use by "berth run" (nginx, pid 1234): stop it, or choose another port',
    });
  });

  it('says where the run listens when that is not the address asked for', () => {
    plant('101.json', record(101, { pid: 1234, listen: [{ address: '::', port: 8080 }] }));
    const v6 = new ApiError('PORT_IN_USE', '[0:0::1]:8080 is already in use by another program');
    expect(explainRunHolder(v6, { address: '0:0::1', port: 8080 }, dir, yes).message).toBe(
      '[::1]:8080 is in use by "berth run" on [::]:8080 (nginx, pid 1234): stop it, or choose another port',
    );
  });

  it.each([
    ['another port', { address: '127.0.0.1', port: 81 }],
    ['the other protocol', { address: '127.0.0.1', port: 80, protocol: 'udp' as const }],
    ['the other family', { address: '::1', port: 80 }],
    ['another specific address', { address: '127.0.0.2', port: 80 }],
  ])('names no run listening elsewhere: %s', (_what, wanted) => {
    plant('101.json', record(101));
    const error = new ApiError('PORT_IN_USE', 'in use');
    expect(explainRunHolder(error, wanted, dir, yes)).toBe(error);
  });

  it('names no run whose process does not hold the port, or cannot be looked at', () => {
    plant('101.json', record(101));
    expect(explainRunHolder(inUse, { address: '127.0.0.1', port: 80 }, dir, no)).toBe(inUse);
    const unreadable: HoldCheck = () => {
      throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
    };
    expect(findRunHolder(dir, { address: '127.0.0.1', port: 80 }, unreadable)).toBeUndefined();
  });

  it("names no run for any other error, or without a folder to look in, or for this process's own record", () => {
    plant('101.json', record(101));
    const locked = new ApiError('LOCKED', 'not allowed');
    expect(explainRunHolder(locked, { address: '127.0.0.1', port: 80 }, dir, yes)).toBe(locked);
    expect(explainRunHolder(inUse, { address: '127.0.0.1', port: 80 }, undefined, yes)).toBe(inUse);
    rmSync(join(dir, '101.json'));
    plant(`${process.pid}.json`, record(process.pid));
    expect(explainRunHolder(inUse, { address: '127.0.0.1', port: 80 }, dir, yes)).toBe(inUse);
  });
});
