import { INSTALL_RECORD_NAME, installRecord, type InstallRecord } from '../../common/install-record';
import { writeFileAtomically } from './atomic-write';
import { readFileAt } from '../../common/fs/read-file';
import { withTrustedDirectory } from '../../common/fs/trusted-directory';

/**
 * The install record in the state dir, validated; undefined when there is
 * none or it cannot be trusted (then uninstall removes only what it can prove
 * is ours, and install starts a fresh record).
 */
export function readInstallRecord(stateDir: string): InstallRecord | undefined {
  try {
    return withTrustedDirectory(stateDir, (dir) => {
      const bytes = readFileAt(dir, INSTALL_RECORD_NAME, 64 * 1024);
      return bytes === null ? undefined : installRecord.parse(JSON.parse(bytes.toString('utf8')));
    });
  } catch {
    return undefined;
  }
}

export function writeInstallRecord(stateDir: string, record: InstallRecord): void {
  const checked = installRecord.parse(record);
  withTrustedDirectory(stateDir, (dir) =>
    writeFileAtomically(dir, INSTALL_RECORD_NAME, Buffer.from(JSON.stringify(checked, null, 2) + '\n'), { mode: 0o644 }),
  );
}
