import pkg from '../package.json';

/** The version of this build of Berth: the app, the CLI and the bundled helper share it. */
export const BERTH_VERSION: string = pkg.version;

/**
 * What `--version` prints: the program, Berth's version, and the Node it runs
 * on (the single executable carries its own pinned Node; scripts/node-runtime.mjs).
 */
export function versionLine(program: 'berth' | 'berth-helper'): string {
  return `${program} ${BERTH_VERSION} (Node ${process.versions.node})\n`;
}
