import { basename, dirname } from 'node:path';
import { describeIssues } from '../protocol/messages';
import { readFileAt } from '../fs/read-file';
import { withTrustedDirectory } from '../fs/trusted-directory';
import { statAt } from '../../native';
import { helperConfig, type HelperConfig } from './schema';

/**
 * The installed helper's settings, written by the installer. Root trusts this
 * file with who may connect and where the app is, so it must be root's alone:
 * a regular file owned by root, not group/world-writable, in a directory
 * chain that is root's alone, reached without following a symlink.
 */
export function readConfigFile(path: string): HelperConfig {
  const bytes = withTrustedDirectory(dirname(path), (dir) => {
    const st = statAt(dir.fd, basename(path));
    if (st === null) throw new Error(`${path} does not exist: is the helper installed? (berth-helper install --help)`);
    if (st.type !== 'file') throw new Error(`${path} is a ${st.type}, not a regular file`);
    if (st.uid !== 0) throw new Error(`${path} is owned by uid ${st.uid}, not root`);
    if ((st.mode & 0o022) !== 0) throw new Error(`${path} is writable by group or others`);
    return readFileAt(dir, basename(path), 64 * 1024)!;
  });
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new Error(`${path} is not valid JSON`);
  }
  const parsed = helperConfig.safeParse(json);
  if (!parsed.success) throw new Error(`${path}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}
