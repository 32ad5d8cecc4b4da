/**
 * macOS only (vitest.darwin.config.ts): the layout against a real Mac's file
 * system. Install refuses any folder that is not root's alone, all the way
 * up from '/'; these check, before any install, that the macOS layout's
 * folders can pass, and that the reason the socket is not in /var/run holds.
 */
import { lstatSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { untrustedReason } from './fs/trusted-directory';
import { installLayout } from './paths';

const darwin = installLayout('darwin');

/** The deepest part of `path` that exists: what install checks before it creates the rest. */
function deepestExisting(path: string): string {
  let existing = path;
  while (existing !== '/' && untrustedReason(existing) === 'missing') existing = existing.slice(0, existing.lastIndexOf('/')) || '/';
  return existing;
}

describe('the macOS layout on this Mac', () => {
  it.each([
    ['socket', darwin.socketDir],
    ['log', darwin.logDir],
    ['helper', darwin.helperDir],
    ['state', darwin.stateDir],
  ])('the %s folder sits under folders that are root-owned and not group/world-writable', (_what, dir) => {
    const existing = deepestExisting(dir);
    expect(untrustedReason(existing), existing).toBeUndefined();
  });

  it('the socket folder is on a persistent volume, under /private/var/db (root:wheel, 0755)', () => {
    const db = lstatSync('/private/var/db');
    expect(db.isDirectory()).toBe(true);
    expect(db.uid).toBe(0);
    expect(db.mode & 0o022).toBe(0);
  });

  it('/private/var/run itself is group-writable (root:daemon 0775): why the socket is not put directly there', () => {
    const run = lstatSync('/private/var/run');
    expect(run.uid).toBe(0);
    expect(run.gid).toBe(1);
    expect(run.mode & 0o020).toBe(0o020);
    expect(untrustedReason('/private/var/run')).toMatch(/is writable by its group/);
  });
});
