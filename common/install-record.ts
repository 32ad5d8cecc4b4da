import { z } from 'zod';
import { readFileAt } from './fs/read-file';
import { withTrustedDirectory } from './fs/trusted-directory';

/**
 * What the installer created, recorded root-owned in the helper's state dir
 * (`install.json`). Uninstall removes exactly these and nothing else, so it
 * can never be talked into deleting a path it did not make.
 */
export const INSTALL_RECORD_NAME = 'install.json';

export const installRecord = z.strictObject({
  version: z.literal(1),
  /** In removal order: files before the directories that hold them. */
  paths: z
    .array(
      z.strictObject({
        path: z.string().regex(/^\/[^\0]+$/, 'absolute path'),
        kind: z.enum(['file', 'directory']),
      }),
    )
    .max(64),
  /** sha256 of the installed program (common/program-digest.ts): the app compares it with the helper it bundles. */
  programSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'sha256 hex')
    .optional(),
});

export type InstallRecord = z.infer<typeof installRecord>;

/**
 * The install record in the state dir, validated; undefined when there is
 * none or it cannot be trusted (then uninstall removes only what it can prove
 * is ours, install starts a fresh record, and the app knows no digest).
 * World-readable (0644 in a root-owned 0755 dir): the app reads it as the user.
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
