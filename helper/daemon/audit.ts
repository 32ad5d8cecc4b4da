import { closeSync, constants, fstatSync, openSync, writeSync } from 'node:fs';
import type { PeerCredentials } from '../../native';

/** One line of the audit log: who asked for what, and how it ended. */
export interface AuditEntry {
  peer: PeerCredentials;
  op: string;
  args?: Record<string, unknown>;
  result: 'ok' | string;
  message?: string;
}

export interface AuditLog {
  write(entry: AuditEntry): void;
  close(): void;
}

/** Longest line written; anything a client sends that would make it longer is summarized. */
const MAX_LINE = 4096;

/** Discards entries: for `serve` without --audit-log. */
export const nullAuditLog: AuditLog = { write() {}, close() {} };

/**
 * Appends JSON lines to a root-owned file. Opened once with O_NOFOLLOW so a
 * planted symlink cannot redirect root's writes, and checked to be a regular
 * file owned by us (libuv adds O_CLOEXEC). Mode 0644: the user's app shows this log, it holds no secrets.
 */
export function openAuditLog(path: string): AuditLog {
  const fd = openSync(
    path,
    constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
    0o644,
  );
  const st = fstatSync(fd);
  if (!st.isFile() || st.uid !== process.getuid?.() || st.nlink !== 1) {
    closeSync(fd);
    throw new Error(`audit log ${path} must be a regular file owned by this user with one link`);
  }
  let open = true;
  let failures = 0;
  return {
    write(entry) {
      if (!open) return;
      let line = JSON.stringify({ time: new Date().toISOString(), ...entry });
      // A line is a record, not a dump: oversized args are dropped, the fact kept.
      if (line.length > MAX_LINE) line = JSON.stringify({ time: new Date().toISOString(), ...entry, args: { truncated: true } });
      try {
        writeSync(fd, line.slice(0, MAX_LINE) + '\n');
      } catch (error) {
        // A full disk must not stop the helper: say so on stderr, now and then.
        if (failures++ % 1000 === 0) console.error(`berth-helper: cannot write the audit log (${(error as Error).message})`);
      }
    },
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}
