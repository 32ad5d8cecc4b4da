import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { mappingKey } from '../../../common/ports/mapping';
import { ensurePrivateDirectory, writeFileAtomic } from '../fs/user-file';

/**
 * What the user's running `berth run`s hold: one small record per run,
 * `<runsDir>/<pid of berth run>.json`, written by that run once CMD has
 * started and removed when it ends. The backend (and a second berth run)
 * read them only to word "port in use" (run-holder.ts). One file per run,
 * so runs never rewrite each other's records and need no lock; in the
 * user's own 0700 runtime directory, so other users neither read nor plant
 * them. A record is a claim, never proof: the reader checks that the
 * process it names still holds the port before naming it.
 */

/** The most sockets one berth run hands its CMD: keeps the fd table, the environment and a record small. */
export const MAX_LISTENERS = 64;

/** Longer command names are cut: the record only names CMD in a sentence. */
export const MAX_COMMAND_NAME = 64;

/** A record is a few hundred bytes; anything much larger is not one of ours. */
const MAX_RECORD_BYTES = 16 * 1024;

/** Far more than one user runs at once: a directory stuffed with files costs the reader no more than this. */
const MAX_RECORDS = 256;

const pid = z.number().int().min(1).max(2 ** 31 - 1);

export const runRecord = z.strictObject({
  version: z.literal(1),
  /** The berth run process that wrote the record (its file is named after it). */
  runPid: pid,
  /** CMD's pid: the process that holds the sockets (berth run keeps no copy). */
  pid,
  /** CMD's file name, as the user typed it, without its folder: printable, no control characters. */
  command: z.string().min(1).max(MAX_COMMAND_NAME).regex(/^[^\p{Cc}]+$/u),
  listen: z.array(mappingKey).min(1).max(MAX_LISTENERS),
});
export type RunRecord = z.infer<typeof runRecord>;

const RECORD_NAME = /^([1-9]\d{0,9})\.json$/;
/** writeFileAtomic's temp files (`.<name>.<12 hex>.tmp`), left behind only by a crash. */
const TEMP_NAME = /^\.([1-9]\d{0,9})\.json\.[0-9a-f]{12}\.tmp$/;

/** The name of CMD for a sentence: its file name, control characters dropped, at most MAX_COMMAND_NAME characters. */
export function commandName(cmd: string): string {
  const name = basename(cmd).replace(/\p{Cc}/gu, '').slice(0, MAX_COMMAND_NAME);
  return name === '' ? 'a command' : name;
}

/** kill(pid, 0): a live process this user may signal (ESRCH: none; EPERM: someone else's). */
function isLiveProcessOfOurs(target: number): boolean {
  try {
    process.kill(target, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Records what this berth run holds, and returns how to take it back. Best
 * effort: a runtime directory that cannot be written only costs a better
 * sentence for someone else's "port in use", so CMD runs all the same.
 * Records (and crash-left temp files) of runs that are gone are swept first.
 */
export function registerRun(dir: string, record: Omit<RunRecord, 'version' | 'runPid'>): () => void {
  const path = join(dir, `${process.pid}.json`);
  try {
    ensurePrivateDirectory(dir);
    sweepGone(dir);
    const checked = runRecord.parse({ version: 1, runPid: process.pid, ...record });
    writeFileAtomic(path, `${JSON.stringify(checked)}\n`, 0o600);
  } catch {
    return () => undefined;
  }
  return () => {
    try {
      rmSync(path, { force: true });
    } catch {
      // Left for the next run's sweep (this pid is gone by then).
    }
  };
}

/** Removes the records whose berth run is gone (killed: it could not remove its own). */
function sweepGone(dir: string): void {
  for (const name of readdirSync(dir)) {
    const writer = RECORD_NAME.exec(name)?.[1] ?? TEMP_NAME.exec(name)?.[1];
    if (writer === undefined || Number(writer) === process.pid || isLiveProcessOfOurs(Number(writer))) continue;
    rmSync(join(dir, name), { force: true });
  }
}

/**
 * Every valid record in `dir`, in no particular order. Read without
 * following links, only from a directory and files of this user's; a file
 * that is not a valid record is skipped (the reader only words a message).
 */
export function readRunRecords(dir: string): RunRecord[] {
  const uid = process.getuid?.();
  try {
    const st = lstatSync(dir);
    if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) return [];
  } catch {
    return []; // no run has registered yet
  }
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const records: RunRecord[] = [];
  for (const name of names.filter((n) => RECORD_NAME.test(n)).slice(0, MAX_RECORDS)) {
    const bytes = readSmallFile(join(dir, name), uid);
    if (bytes === undefined) continue;
    try {
      const checked = runRecord.safeParse(JSON.parse(bytes.toString('utf8')));
      // The file's name is its writer's pid: a record copied under another name is not trusted.
      if (checked.success && `${checked.data.runPid}.json` === name) records.push(checked.data);
    } catch {
      // Not JSON: skipped.
    }
  }
  return records;
}

/** A regular file of ours, at most MAX_RECORD_BYTES; undefined for anything else. */
function readSmallFile(path: string, uid: number | undefined): Buffer | undefined {
  let fd: number;
  try {
    // O_NOFOLLOW: a link planted at the name is not followed; O_NONBLOCK: a FIFO planted there does not hang the open.
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_RECORD_BYTES || (uid !== undefined && st.uid !== uid)) return undefined;
    // Read to the end, one byte past the cap at most: the file may have grown since fstat.
    const buffer = Buffer.alloc(MAX_RECORD_BYTES + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0 || (length += n) === buffer.length) break;
    }
    return length > MAX_RECORD_BYTES ? undefined : buffer.subarray(0, length);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

