import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { installLayout } from './paths';

/**
 * A machine installed with `berth-helper install --user=NAME`: an admin set
 * Berth up once for one account, and no helper runs. Root-owned JSON at the
 * layout's userModePath; the app reads it to skip the consent prompt and to
 * show the limits below.
 */
export const userModeRecord = z.strictObject({
  user: z.string().regex(/^[a-z_][a-z0-9_.-]*$/i).max(64),
  uid: z.number().int().min(1).max(0xfffffffe),
  appPath: z.string().startsWith('/'),
  installedAt: z.string(),
});

export type UserModeRecord = z.infer<typeof userModeRecord>;

/** What user mode cannot do, as the app and CLI say it. */
export const USER_MODE_LIMITS = [
  'only the account it was set up for can use Berth',
  'ports below 1024 work only where the OS allows a direct bind',
  'no privileged diagnostics trace is gathered',
] as const;

/** The record, or undefined when the machine is not in user mode (or the file is not root's). */
export function readUserMode(path = installLayout().userModePath): UserModeRecord | undefined {
  try {
    const parsed = userModeRecord.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
