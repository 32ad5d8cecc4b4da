/**
 * The generated parts of docs/CLI.md: every usage text the CLI prints, taken
 * from the constants themselves so the doc cannot drift from the code.
 * `npm run docs:cli` (scripts/cli-docs.mjs) rewrites them; main/cli/docs.test.ts
 * fails when they are out of date.
 *
 * A generated section is the text between `<!-- generated: NAME -->` and the
 * next `<!-- end -->`; everything outside the markers is hand-written prose.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { INSTALL_USAGE } from '../helper/install/cli';
import { APP_USAGE } from '../main/cli/app-command';
import { USAGE } from '../main/cli/cli';
import { DIAGNOSE_USAGE } from '../main/cli/diagnose-command';
import { HELPER_USAGE } from '../main/cli/helper-command';
import { POLICY_USAGE } from '../main/cli/policy-command';
import { PORTS_USAGE } from '../main/cli/ports-command';
import { REGISTRY_USAGE } from '../main/cli/registry-command';
import { RUN_USAGE } from '../main/cli/run-command';
import { SETTINGS_USAGE } from '../main/cli/settings-command';
import { STATUS_USAGE } from '../main/cli/status-command';

export const CLI_DOC = 'docs/CLI.md';

/** Section name (as written in the marker) → the usage text it shows. */
export const GENERATED_SECTIONS: ReadonlyArray<{ name: string; text: string }> = [
  { name: 'berth', text: USAGE },
  { name: 'berth status', text: STATUS_USAGE },
  { name: 'berth ports', text: PORTS_USAGE },
  { name: 'berth run', text: RUN_USAGE },
  { name: 'berth app', text: APP_USAGE },
  { name: 'berth settings', text: SETTINGS_USAGE },
  { name: 'berth helper', text: HELPER_USAGE },
  { name: 'berth diagnose', text: DIAGNOSE_USAGE },
  { name: 'berth registry', text: REGISTRY_USAGE },
  { name: 'berth policy', text: POLICY_USAGE },
  { name: 'berth-helper install', text: INSTALL_USAGE },
];

/** A usage text as a fenced block; the text ends with exactly one newline inside the fence. */
export function fenced(text: string): string {
  if (text.includes('```')) throw new Error('a usage text contains ``` and cannot be fenced');
  return '```text\n' + text.replace(/\n*$/, '\n') + '```\n';
}

const MARKER = /<!-- generated: ([^>]*?) -->\n[\s\S]*?<!-- end -->/g;

/**
 * The doc with every generated section rewritten. Throws (naming it) for a
 * section missing from the doc, present twice, or unknown: a marker left for a
 * removed command, or a typo, must not silently stop being updated.
 */
export function renderCliDoc(markdown: string): string {
  const texts = new Map(GENERATED_SECTIONS.map(({ name, text }) => [name, text]));
  const seen = new Set<string>();
  const rendered = markdown.replace(MARKER, (_whole, name: string) => {
    const text = texts.get(name);
    if (text === undefined) throw new Error(`${CLI_DOC}: unknown generated section "${name}"`);
    if (seen.has(name)) throw new Error(`${CLI_DOC}: generated section "${name}" appears twice`);
    seen.add(name);
    return `<!-- generated: ${name} -->\n${fenced(text)}<!-- end -->`;
  });
  const missing = [...texts.keys()].filter((name) => !seen.has(name));
  if (missing.length > 0) {
    throw new Error(`${CLI_DOC}: no generated section for ${missing.map((n) => `"${n}"`).join(', ')}; add <!-- generated: NAME --> … <!-- end -->`);
  }
  return rendered;
}

/** Rewrites docs/CLI.md under `root` (atomically: temp file, fsync, rename); says whether it changed. */
export function updateCliDoc(root: string): boolean {
  const path = join(root, CLI_DOC);
  const before = readFileSync(path, 'utf8');
  const after = renderCliDoc(before);
  if (after === before) return false;
  const temp = `${path}.${process.pid}.tmp`;
  const fd = openSync(temp, 'wx', 0o644);
  try {
    writeSync(fd, after);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  return true;
}
