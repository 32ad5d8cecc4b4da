import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { ApiError } from '../../../common/api/backend-api';
import { portHolderRows } from '../../../common/net/proc-net';
import { protocolOf, type MappingKey } from '../../../common/ports/mapping';
import { formatListen } from '../../../common/ports/parse';
import { canonicalAddress } from './entry';
import { mayHold } from './own-holder';
import { readRunRecords } from './run-records';

/**
 * "In use by another program" sends the user hunting for a program when the
 * holder is their own `berth run` (in another terminal, or forgotten). The
 * runs' records (run-records.ts) say which ports each run was given; before
 * one is named, the process it names is checked to hold the port now:
 *
 * - Linux: the port's socket, as /proc/net lists it, must be one of the
 *   process's open files (/proc/PID/fd), and /proc/PID must be this user's.
 *   That is exact: a pid reused by another program, or a CMD that closed
 *   its socket, names nobody.
 * - macOS has no /proc and no unprivileged way to see another process's
 *   sockets: there the process must be alive and this user's (kill(pid, 0)).
 *   A record goes when its CMD exits, so a stale one is left only after
 *   berth run itself was killed; it can mislead only if CMD's pid is then
 *   reused by another program of the user's while something else holds the
 *   port.
 *
 * Only this user's own records are read, and only this user's processes
 * pass the check: another user's process is never named (their holder
 * keeps the generic sentence).
 */

export interface RunHolder {
  /** CMD's pid. */
  pid: number;
  /** CMD's name (run-records.ts commandName). */
  command: string;
  /** What the run was given that holds the wanted port (the same address, or an any-address on either side). */
  held: MappingKey;
}

/** Does process `pid` hold a socket on `wanted` (or one that keeps it from binding)? See the module comment. */
export type HoldCheck = (pid: number, wanted: MappingKey) => boolean;

const TABLES = { tcp: ['/proc/net/tcp', '/proc/net/tcp6'], udp: ['/proc/net/udp', '/proc/net/udp6'] } as const;

/**
 * Linux: one of `pid`'s open files is a socket that /proc/net lists as holding `wanted`.
 * Read on the event loop: it runs only for a port in use that a record of the user's claims, not per connection.
 */
export function holdsOnLinux(pid: number, wanted: MappingKey): boolean {
  const uid = process.getuid?.();
  // Never another user's process, even where we could read it (root).
  if (statSync(`/proc/${pid}`).uid !== uid) return false;
  const open = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      if (inode !== undefined) open.add(Number(inode));
    } catch {
      // Closed while we looked.
    }
  }
  if (open.size === 0) return false;
  const protocol = protocolOf(wanted);
  for (const table of TABLES[protocol]) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue; // no IPv6 here
    }
    for (const row of portHolderRows(text, wanted.port, protocol)) {
      const listed = { address: canonicalAddress(row.local.address), port: wanted.port, protocol };
      if (row.inode !== 0 && open.has(row.inode) && mayHold(listed, wanted)) return true;
    }
  }
  return false;
}

/** Elsewhere (macOS): a live process of this user's (kill(pid, 0) is refused with EPERM for anyone else's). */
export function holdsElsewhere(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const defaultCheck: HoldCheck = process.platform === 'linux' ? holdsOnLinux : holdsElsewhere;

/** The user's own berth run that holds `wanted` now, if one does; anything unreadable is "none". */
export function findRunHolder(runsDir: string, wanted: MappingKey, holds: HoldCheck = defaultCheck): RunHolder | undefined {
  const key = { ...wanted, address: canonicalAddress(wanted.address) };
  for (const record of readRunRecords(runsDir)) {
    // Our own record (a run asking again for what it holds) names nobody else.
    if (record.runPid === process.pid) continue;
    const held = record.listen.find((given) => mayHold({ ...given, address: canonicalAddress(given.address) }, key));
    if (held === undefined) continue;
    try {
      if (holds(record.pid, key)) return { pid: record.pid, command: record.command, held };
    } catch {
      // Gone (ENOENT), or not ours to look at (EACCES): not this one.
    }
  }
  return undefined;
}

/**
 * PORT_IN_USE reworded when the holder is one of the user's own berth runs
 * (`runsDir` undefined: nothing to look in); any other error as it is.
 */
export function explainRunHolder(error: ApiError, wanted: MappingKey, runsDir: string | undefined, holds?: HoldCheck): ApiError {
  if (error.code !== 'PORT_IN_USE' || runsDir === undefined) return error;
  const holder = findRunHolder(runsDir, wanted, holds);
  if (holder === undefined) return error;
  const where = formatListen({ ...wanted, address: canonicalAddress(wanted.address) });
  const held = formatListen({ ...holder.held, address: canonicalAddress(holder.held.address) });
  // Where the run listens is said only when it is not the address asked for (an any-address on either side).
  const on = held === where ? '' : ` on ${held}`;
  return new ApiError('PORT_IN_USE', `${where} is in use by "berth run"${on} (${holder.command}, pid ${holder.pid}): stop it, or choose another port`);
}
