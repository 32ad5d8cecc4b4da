import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleReport } from '../core/capabilities/sample-reports';
import { extract, makeMachine, type DiagnosticsMachine } from '../core/diagnostics/test-setup';
import { diagnoseCommand, type DiagnoseDeps } from './diagnose-command';
import { EXIT } from './exit-codes';
import { UsageError, type CliIO } from './io';

async function run(machine: DiagnosticsMachine, args: string[], extra: Partial<DiagnoseDeps> = {}) {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => (out += t), err: (t) => (err += t) };
  const code = await diagnoseCommand(args, io, {
    // No helper on this machine: the report says so, and the trace is skipped for that reason.
    capabilities: async () => sampleReport('not-installed'),
    userPaths: machine.userPaths,
    layout: machine.layout,
    hostsPath: machine.hostsPath,
    stderrIsTTY: false,
    ...extra,
  });
  return { code, out, err };
}

/** What is in the home folder, hidden names included: to show nothing was left behind. */
const listing = (dir: string): string[] => readdirSync(dir).sort();

describe('berth diagnose', () => {
  it('writes the archive to the home folder, prints its path, one progress line per step on stderr', async () => {
    const machine = makeMachine();
    try {
      const result = await run(machine, []);
      expect(result.code).toBe(EXIT.ok);
      const path = result.out.trim();
      expect(path).toMatch(new RegExp(`^${machine.home}/berth-diagnostics-\\d{8}-\\d{6}\\.tar\\.gz$`));
      expect(result.out).toBe(`${path}\n`);
      expect(result.err.split('\n')).toEqual(
        expect.arrayContaining([
          '[  0%] capabilities',
          expect.stringMatching(/^\[ *\d+%\] settings$/),
          expect.stringMatching(/^\[ *\d+%\] privileged trace$/),
          expect.stringMatching(/^\[ *\d+%\] writing the archive$/),
          '[100%] done',
          expect.stringMatching(/^\d+ source\(s\) not included \(the archive's manifest\.json says why\):$/),
          expect.stringMatching(/^ {2}trace\.jsonl: the trace needs the helper\. The helper is not installed\.$/),
        ]),
      );
      expect(extract(path).files.has('manifest.json')).toBe(true);
    } finally {
      machine.cleanup();
    }
  });

  it('--json prints the path, the files and what was skipped; --out takes a folder relative to the working directory', async () => {
    const machine = makeMachine();
    try {
      mkdirSync(join(machine.root, 'out'));
      const result = await run(machine, ['--out', 'out', '--json', '--trace-seconds', '0'], { cwd: machine.root });
      expect(result.code).toBe(EXIT.ok);
      const json = JSON.parse(result.out) as { path: string; files: string[]; skipped: Array<{ name: string; reason: string }> };
      expect(json.path.startsWith(join(machine.root, 'out', 'berth-diagnostics-'))).toBe(true);
      expect(json.files).toContain('manifest.json');
      expect(json.skipped).toContainEqual({ name: 'trace.jsonl', reason: 'not asked for (trace seconds 0)' });
    } finally {
      machine.cleanup();
    }
  });

  it('on a terminal, one bar redrawn in place, ended by a line break', async () => {
    const machine = makeMachine();
    try {
      const result = await run(machine, ['--trace-seconds', '0'], { stderrIsTTY: true });
      expect(result.code).toBe(EXIT.ok);
      const bar = result.err.split('\n')[0]!;
      expect(bar.startsWith('\r[------------------------]   0% capabilities')).toBe(true);
      expect(bar).toContain('\r[########################] 100% done\x1b[K');
      expect(result.err.split('\n')[1]).toMatch(/source\(s\) not included/);
    } finally {
      machine.cleanup();
    }
  });

  it('an out folder that does not exist: a clear error, exit 1, nothing written', async () => {
    const machine = makeMachine();
    try {
      const before = listing(machine.home);
      const missing = join(machine.root, 'nowhere');
      const result = await run(machine, ['--out', missing]);
      expect(result).toEqual({ code: EXIT.error, out: '', err: `berth diagnose: the output folder ${missing} does not exist\n` });
      expect(listing(machine.home)).toEqual(before);
    } finally {
      machine.cleanup();
    }
  });

  it.each([
    [['--trace-seconds', 'abc'], /^--trace-seconds needs a whole number from 0 to 30, not "abc"$/],
    [['--trace-seconds', '31'], /not "31"$/],
    [['--trace-seconds=-1'], /not "-1"$/],
    [['--trace-seconds', '1.5'], /not "1\.5"$/],
    [['--out', ''], /^--out needs a folder$/],
  ])('%j is a usage error and nothing is written', async (args, message) => {
    const machine = makeMachine();
    try {
      const before = listing(machine.home);
      const error = await run(machine, args).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).toMatch(message);
      expect(listing(machine.home)).toEqual(before);
    } finally {
      machine.cleanup();
    }
  });

  it('--help prints the usage; an unknown option is refused', async () => {
    const machine = makeMachine();
    try {
      const help = await run(machine, ['--help']);
      expect(help.code).toBe(EXIT.ok);
      expect(help.out).toContain('Usage: berth diagnose [--out DIR] [--trace-seconds N] [--json]');
      await expect(run(machine, ['--outt', '/tmp'])).rejects.toMatchObject({ code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
      expect(listing(machine.home).filter((n) => n.includes('diagnostics'))).toEqual([]);
    } finally {
      machine.cleanup();
    }
  });
});
