import { execFileSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { appDir, freshHome, startApp } from '../../test/support/app';
import { runIsolated } from '../../test/support/isolated-system';
import { setPolkitRule, startPolkit } from '../../test/support/polkit';
import { safeScratchDir } from '../../test/support/scratch';

/**
 * The attack: Berth sits in a folder its user owns (a checkout, an unpacked
 * download), so anything running as that user can swap the helper before
 * the user types the password, and root runs the swapped code. Berth must
 * say so, and ask for nothing, before the password prompt; only an explicit
 * confirmation goes on (a developer installing their own copy).
 */
const users = inject('users');
const LIST = "{ find /usr/local /var/lib /var/log /run /etc/berth -mindepth 1 -not -path '/run/dbus*' -not -path '/run/mount*' 2>/dev/null || true; } | sort";

describe('berth helper install from a folder the user owns', () => {
  let undoRule: (() => void) | undefined;
  beforeAll(async () => {
    await startPolkit();
  });
  afterAll(() => undoRule?.());

  it('refuses before any prompt with one clear sentence and exit 1; --allow-unsafe-location installs and uninstalls', async () => {
    // polkit would say yes at once: only Berth's own check stands between the user's folder and root.
    undoRule = setPolkitRule(users.test.name, 'YES');
    const berth = 'setpriv --reuid=$TEST_UID --regid=$TEST_GID --clear-groups -- node /mnt/home/u/Berth/dist/cli/berth.js';
    const run = await runIsolated(`
      set +e
      mount -t tmpfs -o mode=0755 berth-home /mnt
      mkdir -p /mnt/home/u/Berth/dist /opt/Berth
      cp -a "$FIXTURES/cli" "$FIXTURES/helper" /mnt/home/u/Berth/dist/
      chown -R $TEST_UID:$TEST_GID /mnt/home/u/Berth
      echo "== refused"; ${berth} helper install --app /opt/Berth; echo "exit $?"
      echo "== left"; ${LIST}
      echo "== allowed"; ${berth} helper install --app /opt/Berth --allow-unsafe-location; echo "exit $?"
      echo "== kept"; ${berth} helper uninstall; echo "exit $?"
      echo "== removed"; ${berth} helper uninstall --allow-unsafe-location; echo "exit $?"
      echo "== end"
    `);
    undoRule();
    undoRule = undefined;
    const section = (name: string): string => run.stdout.split(`== ${name}`)[1]!.split('\n== ')[0]!.trim();
    expect(section('refused')).toBe('exit 1');
    expect(run.stderr).toContain(
      'berth: The helper Berth would install can be changed without an administrator password (/mnt/home/u/Berth is owned by you, and 4 more), ' +
        'so anything running as you could swap in its own code and have it run as root when you enter your password; ' +
        'install Berth to /opt first, or continue only if this is your own development copy.\n' +
        'berth: to ask for the password anyway, run it again with --allow-unsafe-location.\n',
    );
    expect(section('left')).toBe('');
    expect(section('allowed')).toContain('installed: the helper is running');
    expect(section('allowed')).toMatch(/exit 0$/);
    expect(section('kept')).toBe('exit 1');
    expect(section('removed')).toContain('uninstalled: nothing of Berth is left');
    expect(section('removed')).toMatch(/exit 0$/);
  });
});

describe('the app from a folder the user owns', () => {
  it('shows the warning before the consent screen asks, and consent without confirmation asks nothing and records nothing', async () => {
    const app = join(safeScratchDir('berth-user-app'), 'Berth');
    cpSync(appDir(), app, { recursive: true });
    execFileSync('chown', ['-R', `${users.test.uid}:${users.test.gid}`, app]);
    const home = freshHome(users.test);
    const running = await startApp(users.test, home, [], { app });
    try {
      const before = (await running.call('state.get')).result as {
        capabilities: { helper: { installWarning: string | null } };
        settings: { consent: unknown };
      };
      expect(before.capabilities.helper.installWarning).toContain(`(${app} is owned by you, and `);
      const decided = await running.call('consent.decide', { choice: 'install' });
      expect(decided).toEqual({ ok: true, result: { kind: 'unsafe-location', message: before.capabilities.helper.installWarning } });
      const after = (await running.call('state.get')).result as { settings: { consent: unknown }; prompt: unknown };
      expect(after.settings.consent).toEqual(before.settings.consent);
      expect(after.prompt).toBeNull();
    } finally {
      await running.stop();
    }
  });
});
