import { execFileSync, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { REPO_ROOT } from '../../test/support/constants';
import { BERTH_INSTALL_ACTION, BERTH_INSTALL_PATH, startPolkit, setPolkitRule } from '../../test/support/polkit';
import { finished, runFixtureAs } from '../../test/support/processes';
import {
  classifyPkexecResult,
  classifySudoPromptResult,
  describeOutcome,
  explainOutcome,
  PKEXEC_DISMISSED,
  PKEXEC_NO_AGENT,
  PKEXEC_NOT_AUTHORIZED,
  quoteArg,
  runElevated,
  SUDO_PROMPT_PERMISSION_DENIED,
  type ElevationOutcome,
} from './elevate';

interface FixtureResult {
  uid: number;
  outcome: ElevationOutcome;
  sentence: string;
}

/** Characters every shell layer on the way treats specially, plus plain ones. */
const shellish = fc.string({
  unit: fc.constantFrom("'", '"', '$', '`', '\\', '\n', '\t', ' ', '!', '*', '?', '~', '#', ';', '&', '|', '(', ')', '<', '>', '{', '}', '[', ']', '-', '=', '%', 'a', 'é', '😀'),
});
const argument = fc.oneof(shellish, fc.string({ unit: 'binary' })).filter((s) => !s.includes('\0'));

/** Splits `printf '%s\0' ARGS...` output back into the arguments. */
function nulSeparated(output: string): string[] {
  return output.split('\0').slice(0, -1);
}

describe('quoteArg', () => {
  it('round-trips any argument without NUL through real bash', () => {
    fc.assert(
      fc.property(fc.array(argument, { minLength: 1, maxLength: 6 }), (args) => {
        const script = `printf '%s\\0' ${args.map(quoteArg).join(' ')}`;
        expect(nulSeparated(execFileSync('bash', ['-c', script]).toString('utf8'))).toEqual(args);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses NUL and lone surrogates, which no argv can carry intact', () => {
    expect(() => quoteArg('a\0b')).toThrow(/NUL/);
    expect(() => quoteArg('\0')).toThrow(/NUL/);
    expect(() => quoteArg('a\uD800b')).toThrow(/well-formed/);
    expect(quoteArg('')).toBe("''");
  });
});

describe('runElevated through pkexec and polkitd', () => {
  const users = inject('users');
  let undo: (() => void) | undefined;

  beforeAll(async () => {
    await startPolkit();
  });

  afterEach(() => {
    undo?.();
    undo = undefined;
  });

  const asTest = (argv: string[]): Promise<FixtureResult> => runFixtureAs<FixtureResult>(users.test, 'elevate', ['--', ...argv]);

  it('passes arguments through unchanged (as root, who polkit always allows)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(argument, { minLength: 1, maxLength: 4 }), async (args) => {
        const outcome = await runElevated(['/usr/bin/printf', '%s\\0', ...args]);
        expect(outcome.kind).toBe('approved');
        if (outcome.kind === 'approved') expect(nulSeparated(outcome.stdout)).toEqual(args);
      }),
      { numRuns: 25 },
    );
  });

  it('approved: the command runs as root for a user polkit allows', async () => {
    undo = setPolkitRule(users.test.name, 'YES');
    const result = await asTest(['/usr/bin/id', '-u']);
    expect(result.uid).toBe(users.test.uid);
    expect(result.outcome).toEqual({ kind: 'approved', stdout: '0\n', stderr: '' });
  });

  it("failed: authorized, but the command's own exit code comes back", async () => {
    undo = setPolkitRule(users.test.name, 'YES');
    const result = await asTest(['/bin/sh', '-c', 'echo partial; echo broke >&2; exit 3']);
    expect(result.outcome).toEqual({ kind: 'failed', exitCode: 3, stdout: 'partial\n', stderr: 'broke\n' });
  });

  it("failed, not cancelled or refused: a command that ran and exits with pkexec's refusal codes", async () => {
    undo = setPolkitRule(users.test.name, 'YES');
    const notAuthorized = await asTest([
      '/bin/sh',
      '-c',
      'echo "Error executing command as another user: Not authorized" >&2; exit 127',
    ]);
    expect(notAuthorized.outcome).toMatchObject({ kind: 'failed', exitCode: 127 });
    const dismissed = await asTest(['/bin/sh', '-c', 'echo started; echo "Error executing command as another user: Request dismissed" >&2; exit 126']);
    expect(dismissed.outcome).toMatchObject({ kind: 'failed', exitCode: 126, stdout: 'started\n' });
    const missing = await asTest(['/bin/sh', '-c', 'echo "sh: no-such-command: not found" >&2; exit 127']);
    expect(missing.outcome).toMatchObject({ kind: 'failed', exitCode: 127 });
  });

  it("gives the program pkexec's clean environment, not the caller's (NODE_OPTIONS would run code as root in a Node helper)", async () => {
    undo = setPolkitRule(users.test.name, 'YES');
    process.env.NODE_OPTIONS_PROBE = '--require /tmp/evil.js';
    try {
      const { outcome } = await asTest(['/usr/bin/env']);
      expect(outcome.kind).toBe('approved');
      if (outcome.kind === 'approved') {
        expect(outcome.stdout).not.toContain('NODE_OPTIONS_PROBE');
        expect(outcome.stdout).toMatch(/^PKEXEC_UID=\d+$/m);
      }
    } finally {
      delete process.env.NODE_OPTIONS_PROBE;
    }
  });

  it('as root: runs the command itself, no prompt, with the same clean environment', async () => {
    process.env.NODE_OPTIONS_PROBE = '--require /tmp/evil.js';
    try {
      const outcome = await runElevated(['/usr/bin/env']);
      expect(outcome.kind).toBe('approved');
      if (outcome.kind === 'approved') {
        expect(outcome.stdout).not.toContain('NODE_OPTIONS_PROBE');
        expect(outcome.stdout).not.toContain('PKEXEC_UID');
        expect(outcome.stdout.trim().split('\n')).toEqual(['PATH=/usr/sbin:/usr/bin:/sbin:/bin']);
      }
      expect(await runElevated(['/bin/sh', '-c', 'echo out; echo err >&2; exit 3'])).toEqual({ kind: 'failed', exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
    } finally {
      delete process.env.NODE_OPTIONS_PROBE;
    }
  });

  it('not-authorized: polkit says no', async () => {
    undo = setPolkitRule(users.test.name, 'NO');
    const result = await asTest(['/usr/bin/id', '-u']);
    expect(result.outcome).toEqual({ kind: 'not-authorized' });
  });

  it('no-agent: polkit wants a password and no agent can ask for it', async () => {
    undo = setPolkitRule(users.test.name, 'AUTH_ADMIN');
    expect((await asTest(['/usr/bin/id', '-u'])).outcome).toEqual({ kind: 'no-agent' });
  });

  it('no-agent: the rule is per user; another user gets the default (admin password)', async () => {
    undo = setPolkitRule(users.test.name, 'YES');
    const result = await runFixtureAs<FixtureResult>(users.other, 'elevate', ['--', '/usr/bin/id', '-u']);
    expect(result.uid).toBe(users.other.uid);
    expect(result.outcome).toEqual({ kind: 'no-agent' });
  });

  it('unavailable, before any prompt: a relative program, NUL, a bad prompt name', async () => {
    // polkit would approve anything here, so "approved" would mean a prompt was attempted.
    undo = setPolkitRule(users.test.name, 'YES');
    const relative = await asTest(['id', '-u']);
    expect(relative.outcome).toMatchObject({ kind: 'unavailable', detail: expect.stringContaining('absolute path') });
    const dotted = await asTest(['./id']);
    expect(dotted.outcome.kind).toBe('unavailable');
    const badName = await runFixtureAs<FixtureResult>(users.test, 'elevate', ['--name', 'Berth!', '--', '/usr/bin/id']);
    expect(badName.outcome).toMatchObject({ kind: 'unavailable', detail: expect.stringContaining('letters, digits and spaces') });
    expect(await runElevated(['/usr/bin/printf', 'a\0b'])).toMatchObject({ kind: 'unavailable', detail: expect.stringContaining('NUL') });
    expect(await runElevated([])).toMatchObject({ kind: 'unavailable' });
  });

  /** The fixture as the test user in a nested mount namespace, after `setup` ran there as root. */
  async function asTestIn(setup: string, argv: string[]): Promise<FixtureResult> {
    const { uid, gid } = users.test;
    const fixture = join(inject('fixturesDir'), 'elevate.js');
    const child = spawn(
      'unshare',
      ['--mount', '--propagation', 'private', '--', 'sh', '-c', `${setup} && exec "$@"`, 'sh',
        'setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', process.execPath, fixture, '--', ...argv],
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' },
    );
    const run = await finished(child);
    try {
      return JSON.parse(run.stdout.trim()) as FixtureResult;
    } catch {
      throw new Error(`elevate fixture printed no JSON (exit ${run.code}): ${run.stdout}${run.stderr}`);
    }
  }

  it('unavailable: pkexec cannot reach polkit (an empty /run/dbus)', async () => {
    undo = setPolkitRule(users.test.name, 'YES');
    const result = await asTestIn('mount -t tmpfs berth-no-bus /run/dbus', ['/usr/bin/id', '-u']);
    expect(result.outcome).toMatchObject({ kind: 'unavailable', detail: expect.stringContaining('Error getting authority') });
  });

  // sudo-prompt pasted the working directory into `cd "..."` for the user's
  // shell, escaping only `"`; pkexec is started in / with no shell at all.
  it('approved: a working directory a shell would expand changes nothing', async () => {
    undo = setPolkitRule(users.test.name, 'YES');
    const dir = '/root/x$(id)`id`\\';
    const result = await asTestIn(`mount -t tmpfs berth-root /root && mkdir '${dir}' && cd '${dir}'`, ['/usr/bin/id', '-u']);
    expect(result.outcome).toEqual({ kind: 'approved', stdout: '0\n', stderr: '' });
  });

  // Through sudo-prompt's `/bin/bash -c`, root's ~/.bashrc ran first (bash
  // sources it when stdin is a socket, as Node's are) and could fake success.
  it("approved and failed stay right when root's ~/.bashrc prints something", async () => {
    undo = setPolkitRule(users.test.name, 'YES');
    const noisyRoot = `mount -t tmpfs berth-root /root && echo 'echo noise from root bashrc' > /root/.bashrc`;
    expect((await asTestIn(noisyRoot, ['/usr/bin/id', '-u'])).outcome).toEqual({ kind: 'approved', stdout: '0\n', stderr: '' });
    expect((await asTestIn(noisyRoot, ['/bin/sh', '-c', 'exit 3'])).outcome).toEqual({
      kind: 'failed',
      exitCode: 3,
      stdout: '',
      stderr: '',
    });
  });
  /**
   * The program at the path build/linux/dev.berth.helper.policy annotates, and
   * the same program elsewhere, in a private /opt (a tmpfs: the machine's /opt
   * is never touched). startPolkit installed the policy as the deb does.
   */
  const OPT_LAYOUT = [
    'mount -t tmpfs -o mode=0755 berth-opt /opt',
    `mkdir -p ${dirname(BERTH_INSTALL_PATH)} /opt/Elsewhere`,
    `printf '#!/bin/sh\\nid -u\\n' > ${BERTH_INSTALL_PATH}`,
    `chmod 0755 ${BERTH_INSTALL_PATH}`,
    `cp -p ${BERTH_INSTALL_PATH} /opt/Elsewhere/berth-helper`,
  ].join(' && ');

  // pkexec names the action by the program it runs: through `/bin/bash -c`
  // (sudo-prompt) every prompt was the generic "run /bin/bash as the super
  // user", which an admin's rule for Berth's action never matched.
  it("asks for Berth's own action, dev.berth.helper.install, for the program at its annotated path", async () => {
    undo = setPolkitRule(users.test.name, 'YES', BERTH_INSTALL_ACTION);
    const annotated = await asTestIn(OPT_LAYOUT, [BERTH_INSTALL_PATH, 'install']);
    expect(annotated.outcome).toEqual({ kind: 'approved', stdout: '0\n', stderr: '' });
    // The same program anywhere else is the generic action, whose default (an admin password) no agent can ask for.
    const elsewhere = await asTestIn(OPT_LAYOUT, ['/opt/Elsewhere/berth-helper', 'install']);
    expect(elsewhere.outcome).toEqual({ kind: 'no-agent' });
  });

  it("reports a refusal of Berth's own action as not-authorized", async () => {
    undo = setPolkitRule(users.test.name, 'NO', BERTH_INSTALL_ACTION);
    expect((await asTestIn(OPT_LAYOUT, [BERTH_INSTALL_PATH, 'install'])).outcome).toEqual({ kind: 'not-authorized' });
  });
});

describe('classifyPkexecResult (what no test can make a person do)', () => {
  const ran = (code: number, stdout: string, stderr: string) => classifyPkexecResult({ code, signal: null, stdout, stderr });

  // Seen here for real: a polkit agent (python3-gi) registered for the shell
  // that ran pkexec answered BeginAuthentication with
  // org.freedesktop.PolicyKit1.Error.Cancelled, as a GUI agent does when the
  // user clicks Cancel; pkexec 122 then exited 126 with exactly this.
  it('cancelled: pkexec exit 126 "Request dismissed"', () => {
    expect(ran(126, '', 'Error executing command as another user: Request dismissed\n')).toEqual({ kind: 'cancelled' });
  });

  it("reads pkexec's own refusals, seen from pkexec 122 here, and nothing else", () => {
    expect(ran(127, '', PKEXEC_NOT_AUTHORIZED)).toEqual({ kind: 'not-authorized' });
    expect(ran(127, '', PKEXEC_NO_AGENT)).toEqual({ kind: 'no-agent' });
    expect(ran(127, '', 'Error accessing /nonexist: No such file or directory\n')).toEqual({
      kind: 'unavailable',
      detail: 'Error accessing /nonexist: No such file or directory',
    });
    expect(ran(0, 'ok\n', '')).toEqual({ kind: 'approved', stdout: 'ok\n', stderr: '' });
    expect(classifyPkexecResult({ code: null, signal: 'SIGKILL', stdout: '', stderr: '' })).toEqual({
      kind: 'failed',
      exitCode: undefined,
      stdout: '',
      stderr: '',
    });
  });

  it('never reads a program that printed anything on stdout, or exited otherwise, as a refusal', () => {
    const refusal = fc.constantFrom(PKEXEC_DISMISSED, PKEXEC_NOT_AUTHORIZED, PKEXEC_NO_AGENT, 'Error getting authority: x\n');
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 255 }), fc.string({ minLength: 1 }), refusal, (code, stdout, stderr) => {
        expect(ran(code, stdout, stderr)).toEqual({ kind: 'failed', exitCode: code, stdout, stderr });
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 255 }).filter((c) => c !== 126 && c !== 127), refusal, (code, stderr) => {
        expect(ran(code, '', stderr).kind).toBe('failed');
      }),
    );
  });
});

describe('classifySudoPromptResult (macOS; what no test can make a person do)', () => {
  // sudo-prompt's MacResult: the privileged script never ran, so no `code`
  // file: a plain Error(PERMISSION_DENIED) without stdout, stderr or code.
  it('cancelled: macOS password dialog dismissed', () => {
    const error = new Error(SUDO_PROMPT_PERMISSION_DENIED);
    expect(classifySudoPromptResult({ error, stdout: undefined, stderr: undefined })).toEqual({ kind: 'cancelled' });
  });

  it('failed: the command exited non-zero after the password was given', () => {
    const error = Object.assign(new Error("Command failed: '/bin/false'\nnope\n"), { code: 1 });
    expect(classifySudoPromptResult({ error, stdout: '', stderr: 'nope\n' })).toEqual({
      kind: 'failed',
      exitCode: 1,
      stdout: '',
      stderr: 'nope\n',
    });
  });

  it('approved and failed by the marker, whatever a shell printed before it', () => {
    const marker = 'berth-elevated-00';
    expect(classifySudoPromptResult({ error: null, stdout: `noise\n${marker}\n0\n`, stderr: '' }, marker)).toEqual({
      kind: 'approved',
      stdout: '0\n',
      stderr: '',
    });
    const error = Object.assign(new Error(SUDO_PROMPT_PERMISSION_DENIED), { code: 3 });
    expect(classifySudoPromptResult({ error, stdout: `noise\n${marker}\n`, stderr: '' }, marker)).toEqual({
      kind: 'failed',
      exitCode: 3,
      stdout: '',
      stderr: '',
    });
  });
});

describe('describeOutcome', () => {
  it('gives one distinct, actionable sentence for each outcome', () => {
    const outcomes: ElevationOutcome[] = [
      { kind: 'approved', stdout: '', stderr: '' },
      { kind: 'failed', exitCode: 3, stdout: '', stderr: 'disk full\nmore\n' },
      { kind: 'cancelled' },
      { kind: 'not-authorized' },
      { kind: 'no-agent' },
      { kind: 'unavailable', detail: 'Unable to find pkexec or kdesudo' },
    ];
    const sentences = outcomes.map(describeOutcome);
    expect(new Set(sentences).size).toBe(outcomes.length);
    for (const sentence of sentences) {
      expect(sentence).toMatch(/^[A-Z].*\.$/s);
      expect(sentence).not.toMatch(/\.\s/); // one sentence
      expect(sentence.split(';').length).toBeGreaterThanOrEqual(2); // what happened; what to do
    }
    expect(sentences[1]).toContain('exit code 3');
    expect(sentences[1]).toContain('disk full');
    expect(sentences[3]).toMatch(/administrator/);
    expect(sentences[4]).toMatch(/desktop session/);
    expect(sentences[5]).toContain('Unable to find pkexec or kdesudo');
    expect(describeOutcome({ kind: 'failed', exitCode: undefined, stdout: '', stderr: '' })).toContain('stopped by a signal');
  });

  it("explainOutcome: the same sentence without the system's words, which come as one short line of detail", () => {
    const raw = `${'Error executing command as another user: Not authorized'.padEnd(300, '!')}\n\nThis incident has been reported.\n`;
    const failed = explainOutcome({ kind: 'failed', exitCode: 127, stdout: 'x', stderr: raw });
    expect(failed.text).toBe('You approved the request, but the command failed with exit code 127; try again, and report it if it keeps failing.');
    expect(failed.detail).toMatch(/^Error executing command as another user: Not authorized!+…$/);
    expect(failed.detail!.length).toBeLessThanOrEqual(160);
    expect(describeOutcome({ kind: 'failed', exitCode: 127, stdout: 'x', stderr: raw })).toBe(
      `You approved the request, but the command failed with exit code 127 (${failed.detail}); try again, and report it if it keeps failing.`,
    );
    expect(explainOutcome({ kind: 'cancelled' })).toEqual({ text: describeOutcome({ kind: 'cancelled' }), detail: null });
    expect(explainOutcome({ kind: 'unavailable', detail: 'pkexec must be setuid root' })).toEqual({
      text: 'Berth cannot ask for administrator rights here; run this as root instead, for example with sudo.',
      detail: 'pkexec must be setuid root',
    });
  });
});

describe('build/linux/dev.berth.helper.policy', () => {
  const policy = join(REPO_ROOT, 'build/linux/dev.berth.helper.policy');

  it("is valid against polkit's DTD", () => {
    execFileSync('xmllint', ['--noout', '--nonet', '--dtdvalid', '/usr/share/polkit-1/policyconfig-1.dtd', policy], {
      stdio: 'pipe',
    });
  });

  it('is loaded by polkitd as dev.berth.helper.install (startPolkit installs it as a package would)', async () => {
    await startPolkit();
    const out = execFileSync('pkaction', ['--action-id', 'dev.berth.helper.install', '--verbose'], { encoding: 'utf8' });
    expect(out).toContain("description:       Install Berth's privileged helper");
    expect(out).toContain(
      "message:           Berth wants to install its privileged helper, which binds ports below 1024, manages CLI links in /usr/local/bin and Berth's entries in /etc/hosts",
    );
    expect(out).toMatch(/implicit any:\s+auth_admin\n/);
    expect(out).toMatch(/implicit inactive:\s+auth_admin\n/);
    // Not _keep: a remembered yes would let any program of this user run the
    // installer again for minutes without a password, e.g. with its own --org-key.
    expect(out).toMatch(/implicit active:\s+auth_admin\n/);
    expect(out).toContain('org.freedesktop.policykit.exec.path -> /opt/Berth/resources/helper/berth-helper');
  });
});
