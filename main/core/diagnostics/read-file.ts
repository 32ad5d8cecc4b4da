import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { errnoCode } from '../../../common/errno';

/**
 * Reads the files diagnostics and capabilities look at, as the user. Only
 * regular files: O_NONBLOCK so a FIFO or device planted at a path cannot
 * hang the read, then fstat on the opened fd (no check-then-open race).
 */

export interface ReadOptions {
  /** Keep at most this many bytes, from the end: a log's latest lines matter most. */
  maxBytes: number;
  /** Follow a symlink at the last component (the hosts file may be one); default no. */
  follow?: boolean;
}

export interface ReadResult {
  bytes: Buffer;
  /** The file's whole size; larger than bytes.length when truncated. */
  size: number;
  truncated: boolean;
}

/** Thrown for something at the path that is not a regular file. */
export class NotRegularFileError extends Error {
  readonly code = 'ENOTREG';
  constructor(path: string) {
    super(`${path} is not a regular file`);
    this.name = 'NotRegularFileError';
  }
}

export function readRegularFile(path: string, options: ReadOptions): ReadResult {
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | (options.follow ? 0 : constants.O_NOFOLLOW);
  const fd = openSync(path, flags);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new NotRegularFileError(path);
    // Start where the last maxBytes begin; /proc files say size 0, so read on to EOF either way.
    const start = Math.max(0, st.size - options.maxBytes);
    const bytes = Buffer.alloc(Math.min(options.maxBytes, Math.max(st.size, 4096)));
    let read = 0;
    while (read < bytes.length) {
      const n = readSync(fd, bytes, read, bytes.length - read, start + read);
      if (n === 0) break;
      read += n;
    }
    return { bytes: bytes.subarray(0, read), size: Math.max(st.size, read), truncated: start > 0 };
  } finally {
    closeSync(fd);
  }
}

/** Why a source could not be read, as the manifest and the capabilities report say it. */
export function unreadableReason(error: unknown): string {
  const code = errnoCode(error);
  switch (code) {
    case 'ENOENT':
      return 'not found';
    case 'ENOTREG':
      return 'not a regular file';
    case 'ELOOP':
      return 'a symbolic link, not followed';
    case undefined:
      return `not readable: ${(error as Error).message}`;
    default:
      return `not readable: ${code}`;
  }
}
