import { z } from 'zod';

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
});

export type InstallRecord = z.infer<typeof installRecord>;
