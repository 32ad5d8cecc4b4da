import { INSTALL_RECORD_NAME, installRecord, type InstallRecord } from '../../common/install-record';
import { writeFileAtomically } from './atomic-write';
import { withTrustedDirectory } from '../../common/fs/trusted-directory';

export function writeInstallRecord(stateDir: string, record: InstallRecord): void {
  const checked = installRecord.parse(record);
  withTrustedDirectory(stateDir, (dir) =>
    writeFileAtomically(dir, INSTALL_RECORD_NAME, Buffer.from(JSON.stringify(checked, null, 2) + '\n'), { mode: 0o644 }),
  );
}
