/**
 * The helper's audit log rotates within its own directory: `audit.log` is the
 * current file, `audit.log.1` the one before it, up to `audit.log.<files-1>`,
 * the oldest. One definition, for the helper that writes them and the app
 * that reads them (Settings' audit table, diagnostics).
 */

/** The most generations a config may ask for; older leftovers up to here are removed. */
export const MAX_AUDIT_FILES = 64;

/** The name of a generation: 0 is the current file. */
export function auditLogGenerationName(base: string, generation: number): string {
  return generation === 0 ? base : `${base}.${generation}`;
}

/** Which generation `name` is, or undefined when it is not one of the log's files. */
export function auditLogGeneration(base: string, name: string): number | undefined {
  if (name === base) return 0;
  if (!name.startsWith(`${base}.`)) return undefined;
  const rest = name.slice(base.length + 1);
  // Plain decimal, no leading zero: "audit.log.01" or "audit.log.1.bak" are not ours.
  return /^[1-9]\d{0,3}$/.test(rest) ? Number(rest) : undefined;
}

/** The log's files among `names` (a directory listing), newest first. */
export function auditLogFiles(base: string, names: readonly string[]): string[] {
  return names
    .map((name) => ({ name, generation: auditLogGeneration(base, name) }))
    .filter((f): f is { name: string; generation: number } => f.generation !== undefined)
    .sort((a, b) => a.generation - b.generation)
    .map((f) => f.name);
}
