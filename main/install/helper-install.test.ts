import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runIsolated } from '../../test/support/isolated-system';
import { setPolkitRule, startPolkit } from '../../test/support/polkit';

const users = inject('users');

/** The user's side: the bundled CLI, as the unprivileged test user. */
const BERTH = 'setpriv --reuid=$TEST_UID --regid=$TEST_GID --clear-groups -- node "$FIXTURES/cli/berth.js"';
const LIST = "{ find /usr/local /var/lib /var/log /run /etc/berth -mindepth 1 -not -path '/run/dbus*' -not -path '/run/mount*' 2>/dev/null || true; } | sort";

describe('install through the real prompt: berth CLI → pkexec → polkitd → installer', () => {
  let undoRule: (() => void) | undefined;
  beforeAll(async () => {
    await startPolkit();
  });
  afterAll(() => undoRule?.());

  it('installs as root, the user talks to the helper, and uninstalls the same way leaving nothing', async () => {
    undoRule = setPolkitRule(users.test.name, 'YES');
    const run = await runIsolated(`
      mkdir -p /opt/Berth
      echo "== install"; ${BERTH} helper install --app /opt/Berth; echo "exit $?"
      echo "== status"; ${BERTH} helper status --socket /run/berth/helper.sock --json
      echo "== owner"; stat -c '%U %a' /usr/local/libexec/berth/berth-helper.js /etc/berth/helper.json
      echo "== uninstall"; ${BERTH} helper uninstall; echo "exit $?"
      echo "== left"; ${LIST}
      echo "== end"
    `);
    undoRule();
    undoRule = undefined;
    const section = (name: string): string => run.stdout.split(`== ${name}`)[1]!.split('\n== ')[0]!.trim();
    expect(section('install')).toContain('installed: the helper is running');
    expect(section('install')).toMatch(/exit 0$/);
    expect(JSON.parse(section('status'))).toMatchObject({ state: 'running', helper: { protocol: 1 } });
    expect(section('owner').split('\n')).toEqual(['root 755', 'root 644']);
    expect(section('uninstall')).toContain('uninstalled: nothing of Berth is left');
    expect(section('left')).toBe('');
  });

  it('a second user: told the helper is not set up for them, enrols through the prompt, and leaves without removing it', async () => {
    undoRule = setPolkitRule([users.test.name, users.other.name], 'YES');
    const OTHER = 'setpriv --reuid=$OTHER_UID --regid=$OTHER_GID --clear-groups -- node "$FIXTURES/cli/berth.js"';
    const run = await runIsolated(`
      set +e
      mkdir -p /opt/Berth
      ${BERTH} helper install --app /opt/Berth >/dev/null
      echo "== other before"; ${OTHER} helper status --socket /run/berth/helper.sock; echo "exit $?"
      echo "== other json"; ${OTHER} helper status --socket /run/berth/helper.sock --json
      echo "== other install"; ${OTHER} helper install --app /opt/Berth | grep -E 'enrolled|installed:'; echo "exit $?"
      echo "== other after"; ${OTHER} helper status --socket /run/berth/helper.sock --json
      echo "== other uninstall"; ${OTHER} helper uninstall | tail -n 1; echo "exit $?"
      echo "== test still"; ${BERTH} helper status --socket /run/berth/helper.sock --json
      echo "== other gone"; ${OTHER} helper status --socket /run/berth/helper.sock --json
      echo "== test uninstall"; ${BERTH} helper uninstall | tail -n 1
      echo "== left"; ${LIST}
      echo "== end"
    `);
    undoRule();
    undoRule = undefined;
    expect(run.stderr).toBe('');
    const section = (name: string): string => run.stdout.split(`== ${name}`)[1]!.split('\n== ')[0]!.trim();
    // Not "not installed": the helper is there, for someone else; the fix is named.
    expect(section('other before')).toMatch(/^Helper\s+Berth's helper is installed on this machine, but not for your account\.$/m);
    expect(section('other before')).toMatch(/^Fix\s+Add your account: choose "Install helper" in Berth, or run "berth helper install" \(it asks for an administrator's password\)\.$/m);
    expect(section('other before')).toMatch(/exit 3$/);
    expect(JSON.parse(section('other json'))).toMatchObject({ state: 'not-enrolled' });
    expect(section('other install')).toContain(`enrolled uid ${users.other.uid} in /etc/berth/helper.json (beside uid ${users.test.uid})`);
    expect(section('other install')).toMatch(/exit 0$/);
    expect(JSON.parse(section('other after'))).toMatchObject({ state: 'running' });
    // The other user's own Uninstall (pkexec berth-helper uninstall --uid): only its enrolment goes.
    expect(section('other uninstall')).toBe(
      `unenrolled: the helper no longer serves uid ${users.other.uid}; it stays for the other accounts on this computer\nexit 0`,
    );
    expect(JSON.parse(section('test still'))).toMatchObject({ state: 'running' });
    expect(JSON.parse(section('other gone'))).toMatchObject({ state: 'not-enrolled' });
    expect(section('test uninstall')).toBe('uninstalled: nothing of Berth is left');
    expect(section('left')).toBe('');
  });

  it('as root: no prompt at all; root itself needs no helper, and --user NAME installs it for that user', async () => {
    const ROOT_BERTH = 'node "$FIXTURES/cli/berth.js"';
    const run = await runIsolated(`
      set +e
      mkdir -p /opt/Berth
      # Any use of the prompt would fail: root needs none.
      mount --bind /bin/false /usr/bin/pkexec
      echo "== bare"; ${ROOT_BERTH} helper install --app /opt/Berth 2>&1; echo "exit $?"
      echo "== nobody"; ${ROOT_BERTH} helper install --app /opt/Berth --user no-such-user-here 2>&1; echo "exit $?"
      echo "== for"; ${ROOT_BERTH} helper install --app /opt/Berth --user ${users.test.name}; echo "exit $?"
      echo "== status"; ${BERTH} helper status --socket /run/berth/helper.sock --json
      echo "== uninstall"; ${ROOT_BERTH} helper uninstall; echo "exit $?"
      echo "== left"; ${LIST}
      echo "== end"
    `);
    const section = (name: string): string => run.stdout.split(`== ${name}`)[1]!.split('\n== ')[0]!.trim();
    expect(section('bare')).toContain('you are root, and root needs no helper (it binds any port itself); to install it for a user, run: berth helper install --user NAME');
    expect(section('bare')).toMatch(/exit 64$/);
    expect(section('nobody')).toContain('there is no user named no-such-user-here on this machine');
    expect(section('nobody')).toMatch(/exit 64$/);
    expect(section('for')).toContain('installed: the helper is running');
    expect(section('for')).toMatch(/exit 0$/);
    expect(JSON.parse(section('status'))).toMatchObject({ state: 'running' });
    expect(section('uninstall')).toMatch(/exit 0$/);
    expect(section('left')).toBe('');
  });

  it.each([
    ['NO' as const, 'not-authorized', /not allowed|not authorized/i],
    ['AUTH_ADMIN' as const, 'no-agent', /authentication agent/i],
  ])('with a polkit rule %s: a clear message, exit 5, nothing installed', async (rule, _kind, message) => {
    undoRule = setPolkitRule(users.test.name, rule);
    const run = await runIsolated(`
      set +e
      ${BERTH} helper install --app /opt/Berth; echo "== exit $?"
      echo "== left"; ${LIST}
    `);
    undoRule();
    undoRule = undefined;
    expect(run.stdout).toContain('== exit 5');
    expect(run.stderr).toMatch(message);
    expect(run.stdout.split('== left')[1]!.trim()).toBe('');
  });
});
