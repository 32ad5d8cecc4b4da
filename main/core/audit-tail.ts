import { basename, dirname, join } from 'node:path';
import type { ApiResult } from '../../common/api/backend-api';
import { auditLogGenerationName } from '../../common/audit-log-files';
import { errnoCode } from '../../common/errno';
import { readRegularFile } from './diagnostics/read-file';

/** The most read from each file: the table shows at most 500 lines of at most 4 KiB. */
const WINDOW_BYTES = 256 * 1024;

/**
 * The newest `lines` records of the helper's audit log, for Settings' table.
 * The helper rotates the log (helper/daemon/audit.ts), so right after a
 * rotation the current file holds only a few lines: the table then shows the
 * previous file's last ones before them. Older files are for diagnostics,
 * which archives all of them. Read as the user, never following a symlink.
 */
export function readAuditTail(path: string, lines: number): ApiResult<'audit.tail'> {
  const out: string[] = [];
  for (let generation = 0; generation < 2 && out.length < lines; generation++) {
    const file = join(dirname(path), auditLogGenerationName(basename(path), generation));
    let read;
    try {
      read = readRegularFile(file, { maxBytes: WINDOW_BYTES });
    } catch (error) {
      const code = errnoCode(error);
      // No log yet is not an error: nothing privileged has happened. (A current
      // file missing beside a previous one: the helper could not create it, a full disk.)
      if (code === 'ENOENT') continue;
      if (generation === 0) return { lines: [], error: `the audit log at ${path} cannot be read (${code ?? (error as Error).message})` };
      break;
    }
    const all = read.bytes.toString('utf8').split('\n').filter((l) => l.length > 0);
    // The first line may be cut by the window; drop it unless we read the whole file.
    const whole = read.truncated ? all.slice(1) : all;
    out.unshift(...whole.slice(-(lines - out.length)));
  }
  return { lines: out, error: null };
}
