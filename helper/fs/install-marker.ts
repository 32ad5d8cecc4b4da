import { INSTALL_MARKER_NAME, installMarker, processStarted, readInstallMarker } from '../../common/install-marker';
import { unlinkAt } from '../../native';
import { withTrustedDirectory } from '../../common/fs/trusted-directory';
import { writeFileAtomically } from './atomic-write';

/** Says "an install is under way" to the app (common/install-marker.ts); root-owned 0644 in the root-only state dir. */
export function markInstallStarted(stateDir: string): void {
  const marker = installMarker.parse({ pid: process.pid, started: processStarted(process.pid) });
  withTrustedDirectory(stateDir, (dir) =>
    writeFileAtomically(dir, INSTALL_MARKER_NAME, Buffer.from(JSON.stringify(marker) + '\n'), { mode: 0o644 }),
  );
}

/** Removes this installer's marker (not another's: two installs may overlap, and the later one's marker stays). */
export function markInstallFinished(stateDir: string): void {
  try {
    if (readInstallMarker(stateDir)?.pid !== process.pid) return;
    withTrustedDirectory(stateDir, (dir) => unlinkAt(dir.fd, INSTALL_MARKER_NAME));
  } catch {
    // Gone already, or the state dir went with an uninstall: nothing says "installing" any more.
  }
}
