import { z } from 'zod';
import { CLI_TOOLS } from '../../common/cli-tools';
import { readFileAt } from '../../common/fs/read-file';
import { withTrustedDirectory } from '../../common/fs/trusted-directory';
import type { HelperConfig } from '../../common/helper-config/schema';
import { writeFileAtomically } from '../fs/atomic-write';
import { openStateDir } from '../fs/state-dir';

/** Which target each link had when we made it: how a stale link is known to be ours. */
export const LINK_RECORD_NAME = 'links.json';
const linkRecord = z.partialRecord(z.enum(CLI_TOOLS), z.string());
export type LinkRecord = z.infer<typeof linkRecord>;

export function readLinkRecord(config: HelperConfig): LinkRecord {
  try {
    return withTrustedDirectory(config.stateDir, (dir) => {
      const bytes = readFileAt(dir, LINK_RECORD_NAME, 64 * 1024);
      const parsed = bytes === null ? undefined : linkRecord.safeParse(JSON.parse(bytes.toString('utf8')));
      return parsed?.success ? parsed.data : {};
    });
  } catch {
    // No state dir yet (nothing linked) or an unreadable record: then only current-target links count as ours.
    return {};
  }
}

export function writeLinkRecord(config: HelperConfig, record: LinkRecord): void {
  const dir = openStateDir(config.stateDir);
  try {
    writeFileAtomically(dir, LINK_RECORD_NAME, Buffer.from(JSON.stringify(record)), { mode: 0o644 });
  } finally {
    dir.close();
  }
}
