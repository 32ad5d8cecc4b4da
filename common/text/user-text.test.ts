import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../test/support/constants';
import { API_ERROR_CODES } from '../api/backend-api';
import { ERROR_CODES } from '../protocol/errors';

/**
 * Words people read carry no internal codes and no Markdown: every string
 * written in the app, the CLI, the helper and the shared code (string
 * literals, template parts and JSX text) is scanned. Only prose is judged: a
 * text with a space in it. A code such as HELPER_NEEDED belongs in --json
 * output and logs (where it is data, not a literal in a sentence); a
 * backtick shows up as a stray character in a window or a terminal.
 */

const SCANNED = ['main', 'common', 'helper', 'renderer'];
/** Test code, and the dev-only preview: not what a user reads. */
const SKIPPED = [/\.test\.tsx?$/, /\.d\.ts$/, /(^|\/)test-(support|setup)\.ts$/, /(^|\/)planted-secrets\.ts$/, /^renderer\/dev\//];

function sourceFiles(): string[] {
  const files: string[] = [];
  for (const root of SCANNED) {
    for (const entry of readdirSync(join(REPO_ROOT, root), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !/\.tsx?$/.test(entry.name)) continue;
      const path = relative(REPO_ROOT, join(entry.parentPath, entry.name));
      if (path.split('/').includes('node_modules') || SKIPPED.some((pattern) => pattern.test(path))) continue;
      files.push(path);
    }
  }
  return files.sort();
}

/** Every piece of literal text in a file, with its line. */
function texts(path: string): Array<{ line: number; text: string }> {
  const source = ts.createSourceFile(path, readFileSync(join(REPO_ROOT, path), 'utf8'), ts.ScriptTarget.Latest, true, path.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const found: Array<{ line: number; text: string }> = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateLiteralToken(node) || ts.isJsxText(node)) {
      found.push({ line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1, text: node.text });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const CODE = new RegExp(`\\b(${[...new Set([...API_ERROR_CODES, ...ERROR_CODES])].join('|')})\\b`);

describe('the words users read', () => {
  const files = sourceFiles();
  const prose = files.flatMap((path) => texts(path).map((t) => ({ ...t, where: `${path}:${t.line}` }))).filter((t) => /\S \S/.test(t.text));

  it('the scan sees the app, the CLI and the helper (it would pass on nothing otherwise)', () => {
    expect(files).toEqual(expect.arrayContaining(['main/core/ports/bind.ts', 'main/cli/cli.ts', 'helper/ops/hosts/atomic-file.ts', 'renderer/views/Consent.tsx']));
    expect(prose.some((t) => t.text.includes('is already in use by another program'))).toBe(true);
  });

  it('no sentence has a backtick in it', () => {
    expect(prose.filter((t) => t.text.includes('`')).map((t) => `${t.where}: ${t.text}`)).toEqual([]);
  });

  it('no sentence names an internal error code', () => {
    expect(prose.filter((t) => CODE.test(t.text)).map((t) => `${t.where}: ${t.text}`)).toEqual([]);
  });
});
