import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse as parseWithPlistJs } from 'plist';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { APP_BUNDLE_ID } from '../../../common/app-id';
import { helperLogPath, installLayout } from '../../../common/paths';
import { escapeXml, launchdPlist, renderPlist } from './launchd';
import { LAUNCHD_LOG_PATH, LAUNCHD_SOCKET_NAME } from './paths';
import { UNSAFE_CHARACTERS, type ServiceSpec } from './spec';
import { DARWIN_SPEC, parsePlist, requireTool, run } from './test-helpers';

const spec: ServiceSpec = DARWIN_SPEC;
const darwin = installLayout('darwin');

/**
 * Every key of the job and the type launchd.plist(5) gives it, strictly: a
 * key we did not mean to write, or one missing, fails. The npm `plist`
 * parser reads <integer> and <real> both as numbers, so integers are checked
 * as whole numbers here and as <integer> elements by the strict reader below
 * (and by plutil in launchd.darwin.test.ts).
 */
const integer = z.number().int();
const launchdJob = z.strictObject({
  Label: z.string(),
  ProgramArguments: z.array(z.string()).min(1),
  Sockets: z.strictObject({
    [LAUNCHD_SOCKET_NAME]: z.strictObject({
      SockPathName: z.string(),
      SockType: z.literal('stream'),
      SockPathMode: integer,
      SockPathOwner: integer,
      SockPathGroup: integer,
    }),
  }),
  RunAtLoad: z.boolean(),
  KeepAlive: z.boolean(),
  Umask: integer,
  StandardErrorPath: z.string(),
  AssociatedBundleIdentifiers: z.array(z.string()).min(1),
});

/**
 * Apple's plist DTD (its published element model), for xmllint to validate
 * against offline: resolved from the DOCTYPE's public id through a catalog, so
 * a wrong DOCTYPE fails validation too.
 */
const PLIST_DTD = `<!ENTITY % plistObject "(array | data | date | dict | real | integer | string | true | false )" >
<!ELEMENT plist %plistObject;>
<!ATTLIST plist version CDATA "1.0" >
<!ELEMENT array (%plistObject;)*>
<!ELEMENT dict (key, %plistObject;)*>
<!ELEMENT key (#PCDATA)>
<!ELEMENT string (#PCDATA)>
<!ELEMENT data (#PCDATA)>
<!ELEMENT date (#PCDATA)>
<!ELEMENT true EMPTY>
<!ELEMENT false EMPTY>
<!ELEMENT real (#PCDATA)>
<!ELEMENT integer (#PCDATA)>
`;

const scratch = mkdtempSync(join(tmpdir(), 'berth-plist-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
writeFileSync(join(scratch, 'plist.dtd'), PLIST_DTD);
writeFileSync(
  join(scratch, 'catalog.xml'),
  `<?xml version="1.0"?>
<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">
  <public publicId="-//Apple//DTD PLIST 1.0//EN" uri="file://${join(scratch, 'plist.dtd')}"/>
</catalog>
`,
);

let documents = 0;
/** xmllint's verdict: well-formed, and valid against the plist DTD named by the DOCTYPE. */
function xmllint(xml: string): { ok: boolean; output: string } {
  const xmllintPath = requireTool(['/usr/bin/xmllint'], 'libxml2-utils');
  const file = join(scratch, `doc-${documents++}.plist`);
  writeFileSync(file, xml);
  const result = run(xmllintPath, ['--noout', '--nonet', '--valid', file], {
    env: { ...process.env, XML_CATALOG_FILES: join(scratch, 'catalog.xml') },
  });
  const output = result.stdout + result.stderr;
  return { ok: result.status === 0 && output === '', output };
}

describe('launchd plist', () => {
  it('holds exactly the job we mean: one socket, root:wheel 0666 (the helper checks every peer), on demand, no environment', () => {
    expect(parsePlist(launchdPlist(spec))).toEqual({
      Label: 'dev.berth.helper',
      ProgramArguments: spec.helperCommand,
      Sockets: {
        Listener: {
          SockPathName: darwin.socketPath,
          SockType: 'stream',
          SockPathMode: 438n,
          SockPathOwner: 0n,
          SockPathGroup: 0n,
        },
      },
      RunAtLoad: false,
      KeepAlive: false,
      Umask: 18n,
      StandardErrorPath: '/Library/Logs/Berth/helper.log',
      AssociatedBundleIdentifiers: ['dev.berth.app'],
    });
  });

  it('reads back, through an independent parser (npm plist), as that job with every key of its launchd type', () => {
    const job = launchdJob.parse(parseWithPlistJs(launchdPlist(spec)));
    expect(job).toEqual({
      Label: 'dev.berth.helper',
      ProgramArguments: spec.helperCommand,
      // One socket for every enrolled user: root's, 0666; the helper checks each peer (SECURITY.md, who may connect).
      Sockets: { Listener: { SockPathName: darwin.socketPath, SockType: 'stream', SockPathMode: 0o666, SockPathOwner: 0, SockPathGroup: 0 } },
      RunAtLoad: false,
      KeepAlive: false,
      Umask: 0o022,
      StandardErrorPath: helperLogPath(darwin),
      AssociatedBundleIdentifiers: [APP_BUNDLE_ID],
    });
    // The log goes to the folder the macOS install creates and records, not one of its own.
    expect(job.StandardErrorPath.startsWith(`${darwin.logDir}/`)).toBe(true);
    expect(LAUNCHD_LOG_PATH).toBe(job.StandardErrorPath);
    // The socket launchd binds is the one the helper takes (helper/daemon/activation.ts) and the app connects to.
    expect(Object.keys(job.Sockets)).toEqual([LAUNCHD_SOCKET_NAME]);
    // The schema is strict: one stray key, or a value of another type, is caught.
    const withExtra = launchdPlist(spec).replace('<key>RunAtLoad</key>', '<key>Debug</key>\n\t<true/>\n\t<key>RunAtLoad</key>');
    expect(() => launchdJob.parse(parseWithPlistJs(withExtra))).toThrow(/Debug/);
    const asString = launchdPlist(spec).replace('<integer>438</integer>', '<string>438</string>');
    expect(() => launchdJob.parse(parseWithPlistJs(asString))).toThrow(/SockPathMode/);
  });

  it('is valid against the plist DTD (xmllint)', () => {
    const verdict = xmllint(launchdPlist(spec));
    expect(verdict.output).toBe('');
    expect(verdict.ok).toBe(true);
  });

  it('the xmllint check fails on a broken plist', () => {
    const plist = launchdPlist(spec);
    const broken = {
      'a key without a value': plist.replace('<key>SockType</key>', ''),
      'a raw ampersand': plist.replace('helper.json', 'a&b'),
      'a different DOCTYPE': plist.replace('PLIST 1.0//EN', 'PLIST 2.0//EN'),
      'an unknown element': plist.replace('<false/>', '<no/>'),
      'an unclosed element': plist.replace('</array>', ''),
    };
    for (const [what, xml] of Object.entries(broken)) {
      expect(xml, what).not.toBe(plist);
      expect(xmllint(xml).ok, what).toBe(false);
      expect(() => parsePlist(xml), what).toThrow(/plist/);
    }
  });

  it('escapes XML metacharacters so that every string reads back verbatim', () => {
    const tricky = { ...spec, helperCommand: ['/opt/a&b/<c>/]]>/berth-helper', 'serve', '--app', '/Applications/Bérth & Co.app'] };
    const plist = launchdPlist(tricky);
    expect(plist).toContain('<string>/opt/a&amp;b/&lt;c&gt;/]]&gt;/berth-helper</string>');
    expect((parsePlist(plist) as { ProgramArguments: string[] }).ProgramArguments).toEqual(tricky.helperCommand);
    expect(xmllint(plist).ok).toBe(true);
  });

  it('round-trips any argv the spec accepts', () => {
    // Printable text minus what the spec refuses; XML metacharacters and non-ASCII included.
    const char = fc.oneof(fc.constantFrom(...'&<>;] aé€𝄞/-_.='), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }));
    const arg = fc
      .array(char, { minLength: 1, maxLength: 12 })
      .map((chars) => chars.join(''))
      .filter((s) => !UNSAFE_CHARACTERS.test(s));
    fc.assert(
      fc.property(fc.array(arg, { maxLength: 6 }), (args) => {
        const argv = ['/usr/local/libexec/berth/berth-helper', ...args];
        const parsed = parsePlist(launchdPlist({ ...spec, helperCommand: argv })) as { ProgramArguments: string[] };
        expect(parsed.ProgramArguments).toEqual(argv);
      }),
    );
  });

  it('renders integers and booleans with their plist types, and refuses what XML cannot carry', () => {
    expect(renderPlist({ n: 7n, t: true, f: false, s: '7', a: [] })).toContain(
      '\t<key>n</key>\n\t<integer>7</integer>\n\t<key>t</key>\n\t<true/>\n\t<key>f</key>\n\t<false/>\n\t<key>s</key>\n\t<string>7</string>\n\t<key>a</key>\n\t<array>\n\t</array>',
    );
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
    for (const bad of ['\0', '\u0001', '\u001b', '\ufffe', '\ud800']) {
      expect(() => renderPlist({ s: `a${bad}b` })).toThrow(/XML 1.0 cannot represent/);
      expect(() => renderPlist({ [`k${bad}`]: 'v' })).toThrow(/XML 1.0 cannot represent/);
    }
  });
});
