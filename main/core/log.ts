import { appendFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDirectory } from './fs/user-file';

/** The backend's own log: one line per event, bounded (one previous file kept). */
export const BACKEND_LOG_NAME = 'backend.log';
const MAX_LOG_BYTES = 1024 * 1024;

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

/** Logging must never take the backend down: a full disk or a missing dir loses lines, not the app. */
export function fileLogger(logDir: string, echo?: (line: string) => void): Logger {
  const path = join(logDir, BACKEND_LOG_NAME);
  let ready = false;
  const write = (level: string, message: string): void => {
    const line = `${new Date().toISOString()} ${level} ${message.replace(/[\r\n]+/g, ' ')}\n`;
    echo?.(line);
    try {
      if (!ready) {
        ensurePrivateDirectory(logDir);
        ready = true;
      }
      try {
        if (statSync(path).size > MAX_LOG_BYTES) renameSync(path, `${path}.1`);
      } catch {
        // No log yet.
      }
      appendFileSync(path, line, { mode: 0o600 });
    } catch {
      // Dropped: see above.
    }
  };
  return { info: (m) => write('info', m), warn: (m) => write('warn', m) };
}
