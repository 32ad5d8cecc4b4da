import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { capabilitiesSchema, helperState } from '../../common/api/capabilities';
import { mappingState, mappingStatus } from '../../common/ports/mapping';
import { CLI_DOC, GENERATED_SECTIONS, fenced, renderCliDoc, updateCliDoc } from '../../scripts/cli-docs.sections';
import { REPO_ROOT } from '../../test/support/constants';
import { APP_USAGE } from './app-command';
import { USAGE, runCli } from './cli';
import { DIAGNOSE_USAGE } from './diagnose-command';
import { EXIT } from './exit-codes';
import { HELPER_USAGE } from './helper-command';
import type { CliIO } from './io';
import { POLICY_USAGE } from './policy-command';
import { PORTS_USAGE } from './ports-command';
import { REGISTRY_USAGE } from './registry-command';
import { RUN_USAGE } from './run-command';
import { SETTINGS_USAGE } from './settings-command';
import { STATUS_USAGE } from './status-command';

const doc = readFileSync(join(REPO_ROOT, CLI_DOC), 'utf8');

/** The contents of every fenced code block in a markdown text. */
function fencedBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```[^\n]*\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

/** A level-2 section's text: from its heading to the next one. */
function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) return '';
  const next = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, next < 0 ? undefined : next);
}

/** The commands listed in the top-level usage ("registry check" is the registry command). */
const commands = [...USAGE.split('Commands:\n')[1]!.split('\n\n')[0]!.matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]!);

describe('docs/CLI.md matches the code', () => {
  it('has every generated usage section up to date (else run "npm run docs:cli")', () => {
    expect(renderCliDoc(doc)).toBe(doc);
  });

  it.each(GENERATED_SECTIONS.map(({ name, text }) => [name, text]))('shows the usage of %s verbatim in a fenced block', (_name, text) => {
    expect(fencedBlocks(doc)).toContain(text.replace(/\n*$/, '\n'));
  });

  it('has a section for every command in the top-level usage', () => {
    expect(commands).toEqual(['status', 'ports', 'run', 'app', 'settings', 'helper', 'diagnose', 'registry', 'policy']);
    for (const command of commands) expect(section(doc, `\`berth ${command}\``), command).toContain(`<!-- generated: berth ${command} -->`);
  });

  it('lists every exit code, by number and EXIT name, in one table, and no other', () => {
    const rows = [...section(doc, 'Exit codes').matchAll(/^\| (\d+) \| `(\w+)` \|/gm)].map((m) => [m[2]!, Number(m[1])]);
    expect(Object.fromEntries(rows)).toEqual(EXIT);
    expect(rows).toHaveLength(Object.keys(EXIT).length);
  });

  it('shows --json examples that are valid reports, and names every state they can hold', () => {
    const json = (heading: string): unknown[] =>
      [...section(doc, heading).matchAll(/^```json\n([\s\S]*?)^```$/gm)].map((m) => JSON.parse(m[1]!) as unknown);
    const [status] = json('`berth status`');
    expect(capabilitiesSchema.safeParse(status).error).toBeUndefined();
    const [port] = json('`berth ports`');
    expect(mappingStatus.safeParse(port).error).toBeUndefined();
    for (const state of helperState.options) expect(section(doc, '`berth status`')).toContain(`\`${state}\``);
    for (const state of mappingState.options) expect(section(doc, '`berth ports`')).toContain(`\`${state}\``);
  });

  // berth-helper has its own codes (docs/INSTALL.md); `berth app`'s usage lists none.
  const withExitCodes = GENERATED_SECTIONS.filter(({ name, text }) => !name.startsWith('berth-helper') && text.includes('Exit codes'));
  it('checks the exit codes of every berth usage that lists them', () => {
    expect(withExitCodes.map(({ name }) => name)).toEqual(GENERATED_SECTIONS.map(({ name }) => name).filter((n) => !['berth app', 'berth-helper install'].includes(n)));
  });

  it.each(withExitCodes.map(({ name, text }) => [name, text]))(
    'the exit codes %s lists in its usage are all EXIT codes',
    (_name, text) => {
      const paragraph = text.slice(text.indexOf('Exit codes')).split('\n\n')[0]!;
      const codes = [...paragraph.matchAll(/(?:^|[\s:,(])(\d+) (?!\+)/g)].map((m) => Number(m[1]));
      expect(codes.length).toBeGreaterThan(0);
      for (const code of codes) expect(Object.values(EXIT), `${code} in "${paragraph}"`).toContain(code);
    },
  );
});

describe('the docs generator (scripts/cli-docs.sections.ts)', () => {
  const status = GENERATED_SECTIONS.find(({ name }) => name === 'berth status')!;

  it('rewrites only what is between the markers, leaving the prose as written', () => {
    const stale = doc.replace(fenced(status.text), '```text\nUsage: berth status [--old-flag]\n```\n');
    expect(stale).not.toBe(doc);
    expect(renderCliDoc(stale)).toBe(doc);
    const prose = doc.replace('## `berth status`\n', '## `berth status`\n\nA paragraph someone added.\n');
    expect(renderCliDoc(prose)).toBe(prose);
  });

  it.each([
    ['missing', doc.replace('<!-- generated: berth status -->', '<!-- removed -->'), /no generated section for "berth status"/],
    ['twice', `${doc}\n<!-- generated: berth ports -->\n<!-- end -->\n`, /"berth ports" appears twice/],
    ['unknown', `${doc}\n<!-- generated: berth launch -->\n<!-- end -->\n`, /unknown generated section "berth launch"/],
  ])('refuses a doc with a section %s, naming it', (_case, markdown, message) => {
    expect(() => renderCliDoc(markdown)).toThrow(message);
  });

  describe('updateCliDoc', () => {
    let root: string;
    beforeAll(() => {
      root = mkdtempSync(join(tmpdir(), 'berth-cli-docs-'));
      mkdirSync(join(root, 'docs'));
    });
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    it('rewrites a stale doc in place, then finds nothing to do', () => {
      writeFileSync(join(root, CLI_DOC), doc.replace(fenced(status.text), '```text\nold\n```\n'));
      expect(updateCliDoc(root)).toBe(true);
      expect(readFileSync(join(root, CLI_DOC), 'utf8')).toBe(doc);
      expect(updateCliDoc(root)).toBe(false);
      expect(readdirSync(join(root, 'docs'))).toEqual(['CLI.md']);
    });

    it('leaves a doc it cannot render exactly as it was, with no temp file behind', () => {
      const broken = doc.replace('<!-- generated: berth run -->', '');
      writeFileSync(join(root, CLI_DOC), broken);
      expect(() => updateCliDoc(root)).toThrow(/no generated section for "berth run"/);
      expect(readFileSync(join(root, CLI_DOC), 'utf8')).toBe(broken);
      expect(readdirSync(join(root, 'docs'))).toEqual(['CLI.md']);
    });
  });
});

describe('berth --help and bad usage, command by command', () => {
  // The settings commands look for the app's control socket and settings file:
  // point them at an empty directory so nothing of this machine's is read or written.
  let home: string;
  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'berth-cli-help-'));
    vi.stubEnv('XDG_CONFIG_HOME', join(home, 'config'));
    vi.stubEnv('XDG_RUNTIME_DIR', join(home, 'run'));
    vi.stubEnv('XDG_STATE_HOME', join(home, 'state'));
  });
  afterAll(() => {
    vi.unstubAllEnvs();
    rmSync(home, { recursive: true, force: true });
  });

  async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const io: CliIO = { out: (t) => (out += t), err: (t) => (err += t) };
    const code = await runCli(argv, io);
    return { code, out, err };
  }

  it.each([
    [['--help'], USAGE],
    [['-h'], USAGE],
    [['help'], USAGE],
    [['status', '--help'], STATUS_USAGE],
    [['status', '-h'], STATUS_USAGE],
    [['ports', '--help'], PORTS_USAGE],
    [['ports', 'ls', '--help'], PORTS_USAGE],
    [['ports', 'add', '--help'], PORTS_USAGE],
    [['ports', 'rm', '-h'], PORTS_USAGE],
    [['run', '--help'], RUN_USAGE],
    [['run', '-p', '80', '-h'], RUN_USAGE],
    [['app', '--help'], APP_USAGE],
    [['settings', '--help'], SETTINGS_USAGE],
    [['settings', 'get', '--help'], SETTINGS_USAGE],
    [['settings', 'set', '-h'], SETTINGS_USAGE],
    [['helper', '--help'], HELPER_USAGE],
    [['helper', 'status', '--help'], HELPER_USAGE],
    [['helper', 'install', '--help'], HELPER_USAGE],
    [['helper', 'uninstall', '-h'], HELPER_USAGE],
    [['diagnose', '--help'], DIAGNOSE_USAGE],
    [['registry', '--help'], REGISTRY_USAGE],
    [['registry', 'check', '--help'], REGISTRY_USAGE],
    [['policy', '--help'], POLICY_USAGE],
    [['policy', 'keygen', '--help'], POLICY_USAGE],
    [['policy', 'sign', '-h'], POLICY_USAGE],
    [['policy', 'verify', '--help'], POLICY_USAGE],
  ])('berth %j prints its usage on stdout and exits 0', async (argv, usage) => {
    expect(await run(argv)).toEqual({ code: EXIT.ok, out: usage, err: '' });
  });

  it.each([
    [['--bogus'], '', /unknown command "--bogus"/],
    [['launch', '--now'], '', /unknown command "launch"/],
    [['status', '--bogus'], 'status', /Unknown option '--bogus'/],
    [['status', 'extra'], 'status', /Unexpected argument 'extra'/],
    [['ports', 'lst'], 'ports', /unknown ports command "lst"/],
    [['ports', 'ls', '--bogus'], 'ports', /Unknown option '--bogus'/],
    [['ports', 'ls', 'extra'], 'ports', /ports ls takes no arguments/],
    [['ports', 'add'], 'ports', /ports add takes exactly one mapping/],
    [['ports', 'add', '80'], 'ports', /"80" says where to listen but not where to forward/],
    [['ports', 'add', '99999=80'], 'ports', /99999/],
    [['ports', 'rm', 'x'], 'ports', /"x"/],
    [['run', '--bogus'], 'run', /unknown option "--bogus"/],
    [['run', '-p', '80'], 'run', /give the command to run after --/],
    [['run', '--', 'true'], 'run', /give at least one -p/],
    [['run', '-p', 'nowhere:80', '--', 'true'], 'run', /-p nowhere:80: /],
    [['run', '-p', '80', '--helper-socket', 'rel.sock', '--', 'true'], 'run', /--helper-socket must be an absolute path/],
    [['app', '--bogus'], 'app', /Unknown option '--bogus'/],
    [['app', '--port', 'x'], 'app', /--port must be 0-65535/],
    [['app', '--helper-socket', 'rel.sock'], 'app', /--helper-socket needs an absolute path/],
    [['settings', 'bogus'], 'settings', /unknown settings command "bogus"/],
    [['settings', 'get', '--bogus'], 'settings', /Unknown option '--bogus'/],
    [['settings', 'get', 'a', 'b'], 'settings', /get takes at most one KEY/],
    [['settings', 'get', 'nokey'], 'settings', /nokey/],
    [['settings', 'set', 'startAtLogin'], 'settings', /set needs a KEY and a VALUE/],
    [['settings', 'set', 'startAtLogin', 'maybe'], 'settings', /startAtLogin cannot be "maybe"/],
    [['helper', 'start'], 'helper', /unknown helper command "start"/],
    [['helper', 'status', '--bogus'], 'helper', /Unknown option '--bogus'/],
    [['helper', 'install', '--bogus'], 'helper', /Unknown option '--bogus'/],
    [['helper', 'install', '--app', 'relative/Berth'], 'helper', /--app needs an absolute path/],
    [['helper', 'uninstall', '--app', '/opt/Berth'], 'helper', /Unknown option '--app'/],
    [['diagnose', '--bogus'], 'diagnose', /Unknown option '--bogus'/],
    [['diagnose', '--trace-seconds', 'x'], 'diagnose', /--trace-seconds needs a whole number/],
    [['diagnose', '--out', ''], 'diagnose', /--out needs a folder/],
    [['registry', 'list'], 'registry', /unknown registry command "list"/],
    [['registry', 'check'], 'registry', /check takes exactly one IMAGE \(got 0\)/],
    [['registry', 'check', '--bogus', 'nginx'], 'registry', /Unknown option '--bogus'/],
    [['policy', 'bogus'], 'policy', /unknown policy command "bogus"/],
    [['policy', 'keygen'], 'policy', /--out is required/],
    [['policy', 'sign', '--bogus'], 'policy', /Unknown option '--bogus'/],
    [['policy', 'verify', '--key', 'k.pem', '--in', 'p.json', '--at', 'someday'], 'policy', /--at "someday" is not a date/],
  ])('berth %j exits 64 with one line and a pointer to "berth %s --help"', async (argv, command, message) => {
    const result = await run(argv);
    expect(result.code).toBe(EXIT.usage);
    expect(result.out).toBe('');
    const pointer = `Run "berth ${command === '' ? '' : `${command} `}--help" for usage.`;
    const lines = result.err.split('\n');
    expect(lines, result.err).toEqual([expect.stringMatching(new RegExp(`^berth(?: ${command})?: `)), pointer, '']);
    expect(lines[0]).toMatch(message);
    // Bad usage is refused before anything is touched: no settings file, socket or log appeared.
    expect(readdirSync(home)).toEqual([]);
  });

  it.each([
    [[], USAGE],
    [['ports'], PORTS_USAGE],
    [['settings'], SETTINGS_USAGE],
    [['helper'], HELPER_USAGE],
    [['registry'], REGISTRY_USAGE],
    [['policy'], POLICY_USAGE],
  ])('berth %j without a subcommand prints its usage and exits 64', async (argv, usage) => {
    const result = await run(argv);
    expect(result.code).toBe(EXIT.usage);
    // Some commands print this usage on stdout, others on stderr (reported as an inconsistency).
    expect(result.out + result.err).toBe(usage);
  });
});
