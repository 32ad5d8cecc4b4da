/**
 * Berth ships one Node single executable that is both the root helper and
 * the `berth` CLI (scripts/build-helper.mjs): two names for one file, as
 * resources/helper/berth-helper and resources/bin/berth. Which one runs is
 * decided by the name of the file the kernel ran, never by an argument: the
 * polkit action and the installed service name the helper's path, so a
 * caller cannot turn the helper into the CLI (or the reverse) by what it
 * passes.
 */
export type Program = 'helper' | 'cli';

/** The program for the executable's file name; undefined for a name that is neither. */
export function programForName(name: string): Program | undefined {
  // "berth-helper..." as helper/install/install.ts currentProgram knows a single-executable helper.
  if (name.startsWith('berth-helper')) return 'helper';
  if (name === 'berth') return 'cli';
  return undefined;
}

/** What a copy under another name says (exit 64). */
export function unknownNameMessage(name: string): string {
  return `${name}: this is Berth's single executable; run it as "berth" (the CLI) or "berth-helper" (the helper)\n`;
}
