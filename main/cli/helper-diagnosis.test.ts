import { describe, expect, it } from 'vitest';
import { diagnoseHelper } from '../../common/helper/diagnosis';
import { runIsolated } from '../../test/support/isolated-system';
import { EXIT } from './exit-codes';

/**
 * The one diagnosis, as the real CLI shows it to real accounts, on a machine
 * of its own with the helper installed for real (standalone mode) at its
 * fixed paths: `berth helper status` (sentence and fix), `berth status --json`
 * (the capabilities report the app's renderer gets) and `berth run` on a
 * privileged port (an error from a helper that could not be used).
 */
/** Each account with a home of its own (its settings live there). */
const AS_TEST = 'setpriv --reuid=$TEST_UID --regid=$TEST_GID --clear-groups -- env HOME=/opt/home/test';
const AS_OTHER = 'setpriv --reuid=$OTHER_UID --regid=$OTHER_GID --clear-groups -- env HOME=/opt/home/other';
const CLI = 'node "$FIXTURES/cli/berth.js"';

/** The three views of one moment, for one account, each in its own section. */
function views(name: string, as: string): string {
  return `
      echo "== ${name} table"; ${as} ${CLI} helper status && echo "exit 0" || echo "exit $?"
      echo "== ${name} caps"; ${as} ${CLI} status --json || true
      echo "== ${name} run"; ${as} ${CLI} run -p 127.0.0.1:80 -- true 2>&1 && echo "exit 0" || echo "exit $?"`;
}

function sections(stdout: string): (name: string) => string {
  return (name) => {
    const start = stdout.indexOf(`== ${name}\n`);
    if (start < 0) throw new Error(`no section "${name}" in:\n${stdout}`);
    return stdout.slice(start + name.length + 4).split('\n== ')[0]!.trim();
  };
}

describe('the helper diagnosis, through the real CLI on an isolated machine', () => {
  it('not installed, running, not enrolled, an update under way, and an installer that died (not running)', async () => {
    const run = await runIsolated(`
      mkdir -p /opt/Berth/resources/bin
      install -m 0755 /dev/null /opt/Berth/resources/bin/berth
      install -d -o $TEST_UID -g $TEST_GID /opt/home/test && install -d -o $OTHER_UID -g $OTHER_GID /opt/home/other
      ${views('none', AS_TEST)}
      node "$HELPER" install --app /opt/Berth --uid $TEST_UID >/dev/null
      echo "== running"; ${AS_TEST} ${CLI} helper status --json || true
      echo "== state after install"; ls -A /var/lib/berth
      ${views('other', AS_OTHER)}
      # An update under way (a new build: the same bundle with one more line; the same program would not restart
      # the helper), held still where it waits to open the helper's log (a FIFO nobody reads):
      # the old helper is stopped, the new program, config and record are in place, the new helper not started.
      mkdir -p /opt/berth-v2/helper && cp "$(dirname "$HELPER")/berth_native.node" /opt/berth-v2/helper/
      { cat "$HELPER"; printf '\\n// a new build\\n'; } > /opt/berth-v2/helper/berth-helper.js
      rm /var/log/berth/helper.log && mkfifo -m 0644 /var/log/berth/helper.log
      node /opt/berth-v2/helper/berth-helper.js install --app /opt/Berth --uid $TEST_UID >/dev/null 2>&1 & INSTALLER=$!
      for i in $(seq 1 3000); do [ "$(cat /proc/$INSTALLER/wchan 2>/dev/null)" = wait_for_partner ] && break; sleep 0.01; done
      echo "== marker"; cat /var/lib/berth/installing.json; stat -c '%U %a' /var/lib/berth/installing.json
      ${views('upgrading', AS_TEST)}
      # The installer dies there: its marker stays, but nobody installs any more.
      kill -KILL $INSTALLER; wait $INSTALLER 2>/dev/null || true
      ${views('dead installer', AS_TEST)}
      echo "== end"
    `);
    expect(run.stderr).toBe('');
    expect(run.code, run.stdout).toBe(0);
    const section = sections(run.stdout);
    const json = (name: string): { helper: Record<string, unknown> } => JSON.parse(section(name)) as { helper: Record<string, unknown> };

    // Not installed: the sentence and the install, on every surface.
    const none = diagnoseHelper('not-installed');
    expect(section('none table').startsWith(`Helper           ${none.sentence}\nFix              ${none.fix}\nHelper version   -\n`)).toBe(true);
    expect(section('none table')).toMatch(new RegExp(`\nexit ${EXIT.helperUnavailable}$`));
    expect(json('none caps').helper).toMatchObject({ state: 'not-installed', message: none.sentence, diagnosis: { ...none, detail: expect.stringContaining('no socket at') } });
    expect(section('none run')).toBe(`berth run: Port 80 needs the privileged helper. ${none.sentence} ${none.fix}\nexit ${EXIT.helperUnavailable}`);

    expect(JSON.parse(section('running'))).toMatchObject({ state: 'running', diagnosis: { condition: 'running', fix: null } });
    // A finished install leaves no marker behind.
    expect(section('state after install').split('\n')).not.toContain('installing.json');
    expect(section('state after install').split('\n')).toContain('install.json');

    // Installed for berth-test only: berth-other is told it is not enrolled, and that enrolling takes an administrator.
    const notEnrolled = diagnoseHelper('not-enrolled');
    expect(section('other table')).toContain(`Helper           ${notEnrolled.sentence}\nFix              ${notEnrolled.fix}\n`);
    expect(json('other caps').helper).toMatchObject({ state: 'not-enrolled', diagnosis: { condition: 'not-enrolled', sentence: notEnrolled.sentence, prompt: 'install' } });
    expect(section('other run')).toBe(`berth run: Port 80 needs the privileged helper. ${notEnrolled.sentence} ${notEnrolled.fix}\nexit ${EXIT.helperUnavailable}`);

    // The installer's marker: root's, world-readable, naming a live installer.
    const [marker, owner] = section('marker').split('\n');
    expect(JSON.parse(marker!)).toMatchObject({ pid: expect.any(Number), started: expect.stringMatching(/^\d+$/) });
    expect(owner).toBe('root 644');

    // Mid-update: "wait", never "install it" (a second prompt would race the first).
    const upgrading = diagnoseHelper('upgrading');
    expect(section('upgrading table')).toContain(`Helper           ${upgrading.sentence}\nFix              ${upgrading.fix}\n`);
    expect(section('upgrading table')).not.toContain('berth helper install');
    expect(json('upgrading caps').helper).toMatchObject({ state: 'not-running', diagnosis: { condition: 'upgrading', prompt: null, command: null } });
    expect(section('upgrading run')).toBe(`berth run: Port 80 needs the privileged helper. ${upgrading.sentence} ${upgrading.fix}\nexit ${EXIT.helperUnavailable}`);

    // The installer is gone and its marker is stale: installed, not running, and the fix starts it.
    const caps = json('dead installer caps').helper;
    expect(caps).toMatchObject({
      state: 'not-running',
      message: 'The helper is installed but not running: this machine has no service manager, so nothing starts it at boot.',
      diagnosis: { condition: 'not-running', prompt: 'install', fix: expect.stringMatching(/^Start it/) },
    });
    const diagnosis = caps.diagnosis as { sentence: string; fix: string };
    expect(section('dead installer table')).toContain(`Helper           ${diagnosis.sentence}\nFix              ${diagnosis.fix}\n`);
    expect(section('dead installer run')).toBe(
      `berth run: Port 80 needs the privileged helper. ${diagnosis.sentence} ${diagnosis.fix}\nexit ${EXIT.helperUnavailable}`,
    );
    // No internal code and no socket path in anything a person reads.
    for (const name of ['none', 'other', 'upgrading', 'dead installer']) {
      for (const view of ['table', 'run']) expect(section(`${name} ${view}`)).not.toMatch(/HELPER_NEEDED|HELPER_UNAVAILABLE|UNAUTHORIZED|\/run\/berth|not-installed|not-running/);
    }
  });
});
