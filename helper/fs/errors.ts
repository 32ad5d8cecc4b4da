import { errnoCode } from '../../common/errno';
import { ProtocolError } from '../../common/protocol/errors';

/**
 * A file system's refusal that is the machine's state, not a bug in the
 * helper: a full disk or quota, or a read-only file system. Said as what
 * it is and what to do, instead of "internal error in the helper". Every
 * write the helper makes is atomic or undone, so nothing was changed.
 */
export function fileSystemRefusal(error: unknown): ProtocolError | undefined {
  const code = errnoCode(error);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new ProtocolError('NO_SPACE', `the disk that holds Berth's system files is full (${code}), so nothing was changed; free some space and try again`);
  }
  if (code === 'EROFS') return new ProtocolError('READ_ONLY', 'the file system that holds Berth\'s system files is read-only, so nothing was changed');
  return undefined;
}
