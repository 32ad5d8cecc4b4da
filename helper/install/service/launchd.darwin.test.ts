/**
 * macOS only (vitest.darwin.config.ts; .github/workflows/macos.yml): Apple's
 * own plutil reads the plist launchdPlist writes. The Linux suite checks the
 * same document with xmllint, the npm plist parser and a strict reader of
 * its own (launchd.test.ts); this adds the parser launchd shares.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { APP_BUNDLE_ID } from '../../../common/app-id';
import { helperLogPath, installLayout } from '../../../common/paths';
import { launchdPlist } from './launchd';
import { LAUNCHD_SOCKET_NAME } from './paths';
import { DARWIN_SPEC, requireTool, run } from './test-helpers';

const scratch = mkdtempSync(join(tmpdir(), 'berth-plutil-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let files = 0;
function plistFile(xml: string): string {
  const file = join(scratch, `job-${files++}.plist`);
  writeFileSync(file, xml);
  return file;
}

function plutil(args: string[]): { ok: boolean; output: string } {
  const result = run(requireTool(['/usr/bin/plutil'], 'macOS'), args);
  return { ok: result.status === 0, output: (result.stdout + result.stderr).trim() };
}

const socket = `Sockets.${LAUNCHD_SOCKET_NAME}`;
/** keypath → the plist type launchd.plist(5) gives it, and the value plutil prints for it (raw). */
const EXPECTED: Array<[string, string, string | undefined]> = [
  ['Label', 'string', DARWIN_SPEC.label],
  ['ProgramArguments', 'array', undefined],
  ['ProgramArguments.0', 'string', DARWIN_SPEC.helperCommand[0]],
  ['Sockets', 'dictionary', undefined],
  [socket, 'dictionary', undefined],
  [`${socket}.SockPathName`, 'string', installLayout('darwin').socketPath],
  [`${socket}.SockType`, 'string', 'stream'],
  [`${socket}.SockPathMode`, 'integer', '438'],
  [`${socket}.SockPathOwner`, 'integer', '0'],
  [`${socket}.SockPathGroup`, 'integer', '0'],
  ['RunAtLoad', 'bool', 'false'],
  ['KeepAlive', 'bool', 'false'],
  ['Umask', 'integer', '18'],
  ['StandardErrorPath', 'string', helperLogPath(installLayout('darwin'))],
  ['AssociatedBundleIdentifiers', 'array', undefined],
  ['AssociatedBundleIdentifiers.0', 'string', APP_BUNDLE_ID],
];

describe('launchd plist, read by plutil', () => {
  it('passes plutil -lint', () => {
    const verdict = plutil(['-lint', plistFile(launchdPlist(DARWIN_SPEC))]);
    expect(verdict.output).toMatch(/: OK$/);
    expect(verdict.ok).toBe(true);
  });

  it('the lint fails on a broken plist', () => {
    const broken = launchdPlist(DARWIN_SPEC).replace('</array>', '');
    expect(plutil(['-lint', plistFile(broken)]).ok).toBe(false);
  });

  it.each(EXPECTED)('%s is a %s', (keypath, type, value) => {
    const file = plistFile(launchdPlist(DARWIN_SPEC));
    const extracted = plutil(['-extract', keypath, 'raw', '-expect', type, '-o', '-', file]);
    expect(extracted.ok, extracted.output).toBe(true);
    if (value !== undefined) expect(extracted.output).toBe(value);
  });

  it('holds no key the list above does not check', () => {
    const json = plutil(['-convert', 'json', '-o', '-', plistFile(launchdPlist(DARWIN_SPEC))]);
    expect(json.ok, json.output).toBe(true);
    const job = JSON.parse(json.output) as { Sockets: Record<string, Record<string, unknown>> };
    const checked = new Set(EXPECTED.map(([keypath]) => keypath));
    expect(Object.keys(job).filter((key) => !checked.has(key))).toEqual([]);
    expect(Object.keys(job.Sockets[LAUNCHD_SOCKET_NAME]!).filter((key) => !checked.has(`${socket}.${key}`))).toEqual([]);
    expect(Object.keys(job.Sockets)).toEqual([LAUNCHD_SOCKET_NAME]);
  });

  it('the type check fails on a value of another type', () => {
    const file = plistFile(launchdPlist(DARWIN_SPEC).replace('<integer>438</integer>', '<real>438</real>'));
    expect(plutil(['-extract', `${socket}.SockPathMode`, 'raw', '-expect', 'integer', '-o', '-', file]).ok).toBe(false);
  });
});
