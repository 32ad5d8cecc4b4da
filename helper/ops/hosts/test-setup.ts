import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { safeScratchDir } from '../../../test/support/scratch';

/** User bytes the hosts tests must find unchanged: CRLF, tabs, odd spacing, no final newline. */
export const USER_CONTENT = '# my hosts\r\n127.0.1.1\tworkstation  # keep my tabs\r\n\r\n10.0.0.5 db.test';

export interface ScratchHosts {
  dir: string;
  hostsPath: string;
  /** Mounts and other undo steps, run in reverse after each test. */
  undo: Array<() => void>;
}

/**
 * A fresh root-only scratch directory per test (see safeScratchDir), with a
 * hosts path in it and an undo list run after the test. Call at the top of a
 * test file; read the current scratch inside tests with the returned getter.
 */
export function useScratchHosts(): () => ScratchHosts {
  let current: ScratchHosts | undefined;
  beforeEach(() => {
    const dir = safeScratchDir('berth-hosts');
    current = { dir, hostsPath: join(dir, 'hosts'), undo: [() => rmSync(dir, { recursive: true, force: true })] };
  });
  afterEach(() => {
    for (const step of current!.undo.reverse()) step();
  });
  return () => current!;
}
