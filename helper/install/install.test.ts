import { describe, expect, inject, it } from 'vitest';
import { join } from 'node:path';
import { runIsolated } from '../../test/support/isolated-system';
import { safeScratchDir } from '../../test/support/scratch';
import { REPO_ROOT } from '../../test/support/constants';
import { helperProgramFiles, programDigest } from '../../common/program-digest';

const users = inject('users');

/** Lists every path under the directories an install may touch (the isolated ones start empty). */
const LIST = "{ find /usr/local /var/lib /var/log /run /etc/berth -mindepth 1 -not -path '/run/dbus*' -not -path '/run/mount*' 2>/dev/null || true; } | sort";
const AS_USER = 'setpriv --reuid=$TEST_UID --regid=$TEST_GID --clear-groups --';
/** The standalone helper's pid: the supervisor's child (the pid file names the supervisor). */
const HELPER_PID = 'ps -e -o pid=,ppid= | awk -v p="$(cat /run/berth/helper.pid)" \'$2 == p { print $1 }\'';

describe('berth-helper install / uninstall as root (standalone mode)', () => {
  it('installs, serves the user, enrols a second one without a restart, restarts for a new build, and uninstalls leaving nothing', async () => {
    const copies = safeScratchDir('berth-installed-copy');
    const run = await runIsolated(`
      mkdir -p /opt/Berth
      node "$HELPER" install --app /opt/Berth --uid $TEST_UID
      cp /usr/local/libexec/berth/berth-helper.js /usr/local/libexec/berth/berth_native.node ${copies}/
      echo "== digest"; node -p 'JSON.parse(require("fs").readFileSync("/var/lib/berth/install.json")).programSha256'
      echo "== stat"; stat -c '%n %U %a %F' /usr/local/libexec/berth /usr/local/libexec/berth/berth-helper.js /etc/berth/helper.json /var/lib/berth /run/berth /run/berth/helper.sock
      echo "== hello"; ${AS_USER} node "$FIXTURES/helper-client.js" hello /run/berth/helper.sock
      echo "== config"; cat /etc/berth/helper.json
      ino1=$(stat -c %i /usr/local/libexec/berth/berth-helper.js)
      pid1=$(${HELPER_PID})
      echo "== enrol"; node "$HELPER" install --app /opt/Elsewhere --uid $OTHER_UID
      ino2=$(stat -c %i /usr/local/libexec/berth/berth-helper.js)
      echo "== replaced $([ "$ino1" != "$ino2" ] && echo yes || echo no)"
      echo "== kept $([ "$(${HELPER_PID})" = "$pid1" ] && echo yes || echo no)"
      echo "== config2"; cat /etc/berth/helper.json
      echo "== hello2"; ${AS_USER} node "$FIXTURES/helper-client.js" hello /run/berth/helper.sock
      # A new build of the same version: the same bundle with one more line, the same addon.
      mkdir -p /opt/berth-v2/helper
      cp "$(dirname "$HELPER")/berth_native.node" /opt/berth-v2/helper/
      { cat "$HELPER"; printf '\\n// a new build\\n'; } > /opt/berth-v2/helper/berth-helper.js
      echo "== upgrade"; node /opt/berth-v2/helper/berth-helper.js install --app /opt/Berth --uid $TEST_UID
      pid2=$(${HELPER_PID})
      echo "== restarted $([ -n "$pid2" ] && [ "$pid2" != "$pid1" ] && echo yes || echo no)"
      echo "== new build $(grep -c '^// a new build$' /usr/local/libexec/berth/berth-helper.js)"
      echo "== hello3"; ${AS_USER} node "$FIXTURES/helper-client.js" hello /run/berth/helper.sock
      echo "== uninstall"; node "$HELPER" uninstall
      echo "== left"; ${LIST}
      echo "== again"; node "$HELPER" uninstall
      echo "== end"
    `);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const section = (name: string): string => run.stdout.split(`== ${name}`)[1]!.split('\n== ')[0]!.trim();
    expect(section('stat').split('\n')).toEqual([
      '/usr/local/libexec/berth root 755 directory',
      '/usr/local/libexec/berth/berth-helper.js root 755 regular file',
      '/etc/berth/helper.json root 644 regular file',
      '/var/lib/berth root 755 directory',
      '/run/berth root 755 directory',
      // One socket for every enrolled user: root's, connectable by all; the helper checks each peer.
      '/run/berth/helper.sock root 666 socket',
    ]);
    expect(JSON.parse(section('hello'))).toMatchObject({ ok: true, uid: users.test.uid, info: { protocol: 1 } });
    // The record names the bytes root runs: the app compares it with the helper it bundles (a rebuild keeps the version).
    expect(section('digest')).toBe(programDigest(helperProgramFiles(join(copies, 'berth-helper.js'))));
    expect(section('digest')).toBe(programDigest(helperProgramFiles(join(REPO_ROOT, 'dist/helper/berth-helper.js'))));
    // A second install: the program is replaced all the same (a new inode, by rename); the config is kept, with the
    // new uid enrolled beside the first; and the running helper, which follows the enrolment, is not restarted.
    expect(section('replaced')).toBe('yes');
    expect(JSON.parse(section('config'))).toMatchObject({ allowUids: [users.test.uid], appPath: '/opt/Berth' });
    expect(JSON.parse(section('config2'))).toEqual({ ...JSON.parse(section('config')), allowUids: [users.test.uid, users.other.uid] });
    expect(section('enrol')).toContain(`enrolled uid ${users.other.uid} in /etc/berth/helper.json (beside uid ${users.test.uid})`);
    expect(section('enrol')).toMatch(new RegExp(`^enrolled uid ${users.other.uid}; the running helper \\(pid \\d+\\) serves it now, no restart$`, 'm'));
    expect(section('kept')).toBe('yes');
    expect(JSON.parse(section('hello2'))).toMatchObject({ ok: true });
    // A new build (same version, other bytes): the helper is restarted, and runs it.
    expect(section('upgrade')).toContain('installed /usr/local/libexec/berth/berth-helper.js (root, 0755)\n');
    expect(section('upgrade')).toMatch(/^restarting the running helper: its program changed$/m);
    expect(section('upgrade')).toMatch(/^stopped the running helper and its supervisor \(pid \d+\)$/m);
    expect(section('upgrade')).not.toContain('no restart');
    expect(section('restarted')).toBe('yes');
    expect(section('new build')).toBe('1');
    expect(JSON.parse(section('hello3'))).toMatchObject({ ok: true, uid: users.test.uid });
    expect(section('uninstall')).toContain('uninstalled: nothing of Berth is left');
    expect(run.stdout).toContain('service manager: standalone');
    expect(section('left')).toBe('');
    expect(section('again')).toContain('no standalone helper was running');
  });

  it('restarts a running helper when an earlier install died half-way, or when it no longer runs as installed (its socket file gone)', async () => {
    const run = await runIsolated(`
      mkdir -p /opt/Berth
      node "$HELPER" install --app /opt/Berth --uid $TEST_UID >/dev/null
      pid1=$(${HELPER_PID})
      # What an installer killed between its steps leaves: its marker, naming a process that is gone.
      gone=$(sh -c 'echo $$')
      printf '{"pid":%s,"started":null}\\n' "$gone" > /var/lib/berth/installing.json
      echo "== again"; node "$HELPER" install --app /opt/Berth --uid $TEST_UID
      pid2=$(${HELPER_PID})
      echo "== restarted $([ -n "$pid2" ] && [ "$pid2" != "$pid1" ] && echo yes || echo no)"
      echo "== marker"; ls /var/lib/berth
      # Its socket file removed: the helper runs, but no client can reach it.
      rm /run/berth/helper.sock
      echo "== unreachable"; node "$HELPER" install --app /opt/Berth --uid $TEST_UID
      echo "== hello"; ${AS_USER} node "$FIXTURES/helper-client.js" hello /run/berth/helper.sock
      node "$HELPER" uninstall >/dev/null
      echo "== end"
    `);
    expect(run.stderr).toBe('');
    const section = (name: string): string => run.stdout.split(`== ${name}`)[1]!.split('\n== ')[0]!.trim();
    expect(section('again')).toMatch(/^restarting the running helper: an earlier install did not finish$/m);
    expect(section('again')).not.toContain('no restart');
    expect(section('restarted')).toBe('yes');
    expect(section('marker')).not.toContain('installing.json');
    expect(section('unreachable')).toMatch(/^restarting the running helper: it does not run as this install would start it$/m);
    expect(JSON.parse(section('hello'))).toMatchObject({ ok: true, uid: users.test.uid });
  });

  it('restarts a running helper after an install that failed half-way (its program written, its config unreadable)', async () => {
    const run = await runIsolated(`
      mkdir -p /opt/Berth
      node "$HELPER" install --app /opt/Berth --uid $TEST_UID >/dev/null
      pid1=$(${HELPER_PID})
      cp -p /etc/berth/helper.json /root/helper.json.good
      echo 'not json' > /etc/berth/helper.json
      echo "== failed"; node "$HELPER" install --app /opt/Berth --uid $TEST_UID >/dev/null 2>&1 && echo "exit 0" || echo "exit $?"
      echo "== marker"; ls /var/lib/berth
      cp -p /root/helper.json.good /etc/berth/helper.json
      echo "== again"; node "$HELPER" install --app /opt/Berth --uid $TEST_UID
      pid2=$(${HELPER_PID})
      echo "== restarted $([ -n "$pid2" ] && [ "$pid2" != "$pid1" ] && echo yes || echo no)"
      echo "== marker after"; ls /var/lib/berth
      node "$HELPER" uninstall >/dev/null
      echo "== end"
    `);
    expect(run.stderr).toBe('');
    const section = (name: string): string => run.stdout.split(`== ${name}`)[1]!.split('\n== ')[0]!.trim();
    expect(section('failed')).toMatch(/^exit [1-9]/);
    expect(section('marker').split('\n')).toContain('installing.json');
    expect(section('again')).toMatch(/^restarting the running helper: an earlier install did not finish$/m);
    expect(section('restarted')).toBe('yes');
    expect(section('marker after').split('\n')).not.toContain('installing.json');
  });

  it('moves a socket an earlier version configured at a path the layout no longer uses (macOS /var/run/berth) to the layout path', async () => {
    const run = await runIsolated(`
      mkdir -p /opt/Berth /etc/berth
      printf '{"socketPath":"/private/var/run/berth/helper.sock","allowUid":%s,"appPath":"/opt/Berth","stateDir":"/var/lib/berth"}\\n' $TEST_UID > /etc/berth/helper.json
      node "$HELPER" install --app /opt/Berth --uid $TEST_UID
      echo "== config"; cat /etc/berth/helper.json
      echo "== hello"; ${AS_USER} node "$FIXTURES/helper-client.js" hello /run/berth/helper.sock
      echo "== uninstall"; node "$HELPER" uninstall
      echo "== end"
    `);
    expect(run.stderr).toBe('');
    const section = (name: string): string => run.stdout.split(`== ${name}`)[1]!.split('\n== ')[0]!.trim();
    expect(run.stdout).toContain('moved the socket from /private/var/run/berth/helper.sock to /run/berth/helper.sock in /etc/berth/helper.json');
    // Everything else the earlier install recorded stays (its one allowUid now written as the list of enrolled uids).
    expect(JSON.parse(section('config'))).toMatchObject({ socketPath: '/run/berth/helper.sock', allowUids: [users.test.uid], appPath: '/opt/Berth' });
    expect(JSON.parse(section('hello'))).toMatchObject({ ok: true, uid: users.test.uid });
    expect(section('uninstall')).toContain('uninstalled: nothing of Berth is left');
  });

  it('voids an uninstall request left unfinished (its systemd finisher failed): the helper is asked for again', async () => {
    const run = await runIsolated(`
      mkdir -p /opt/Berth
      node "$HELPER" install --app /opt/Berth --uid $TEST_UID >/dev/null
      printf '{"version":1,"uid":%s,"requestedAt":"2026-12-03T12:00:00.000Z"}\\n' $TEST_UID > /var/lib/berth/removal.json
      echo "== reinstall"; node "$HELPER" install --app /opt/Berth --uid $TEST_UID
      echo "== left"; ls -A /var/lib/berth
      node "$HELPER" uninstall >/dev/null
      echo "== end"
    `);
    expect(run.stderr).toBe('');
    const section = (name: string): string => run.stdout.split(`== ${name}`)[1]!.split('\n== ')[0]!.trim();
    expect(section('reinstall')).toContain('discarded an unfinished uninstall request in /var/lib/berth');
    expect(section('left').split('\n')).not.toContain('removal.json');
  });

  it.each([
    ['a group-writable parent', 'chmod 0775 /var/lib', /\/var\/lib is writable by its group/],
    ['a symlinked parent', 'mkdir /run/real && ln -s /run/real /run/berth', /\/run\/berth is a symlink/],
    ['a parent owned by a user', 'mkdir -p /usr/local/libexec && chown $TEST_UID /usr/local/libexec', /owned by uid/],
  ])('refuses %s, changing nothing', async (_what, spoil, message) => {
    const run = await runIsolated(`
      ${spoil}
      before=$(${LIST}; ls -la /etc/berth 2>&1 || true)
      set +e; node "$HELPER" install --app /opt/Berth --uid $TEST_UID; code=$?; set -e
      after=$(${LIST}; ls -la /etc/berth 2>&1 || true)
      echo "== code $code"
      [ "$before" = "$after" ] && echo "== unchanged" || { echo "== changed"; echo "$after"; }
    `);
    expect(run.stdout).toContain('== code 73');
    expect(run.stdout).toContain('== unchanged');
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toContain('run install again');
  });

  it('starts the daemon with a clean environment: NODE_OPTIONS and friends never reach root code', async () => {
    const run = await runIsolated(`
      mkdir -p /opt/Berth
      NODE_OPTIONS=--no-warnings OPENSSL_CONF=/nonexistent BERTH_MARK=1 node "$HELPER" install --app /opt/Berth --uid $TEST_UID >/dev/null
      echo "== env"; tr '\\0' '\\n' < /proc/$(cat /run/berth/helper.pid)/environ | sort
      node "$HELPER" uninstall >/dev/null
    `);
    expect(run.stderr).toBe('');
    expect(run.stdout.split('== env')[1]!.trim().split('\n')).toEqual(['PATH=/usr/sbin:/usr/bin:/sbin:/bin']);
  });

  it('refuses bad arguments before anything else', async () => {
    const run = await runIsolated(`
      for args in "--uid $TEST_UID" "--app relative --uid 5" "--app /opt/B --uid 0" "--app /opt/B --uid 65535" "--app /opt/B --uid bob" "--app /opt/B --uid 5 --force" "--app /opt/B --uid 5 --org-key /etc/passwd"; do
        set +e; node "$HELPER" install $args 2>&1; echo "== code $?"; set -e
      done
      echo "== left"; ${LIST}
    `);
    expect(run.stdout.match(/== code 64/g)).toHaveLength(7);
    // Not a key: refused, and nothing of that file is recorded anywhere.
    expect(run.stdout).toContain('--org-key /etc/passwd: the organization key is not a PEM public key');
    expect(run.stdout).toContain('install needs --app with an absolute path');
    expect(run.stdout).toContain('install needs --uid with the numeric uid of the user to serve (not 0, not 65535)');
    expect(run.stdout).toContain("Unknown option '--force'");
    expect(run.stdout.split('== left')[1]!.trim()).toBe('');
  });
});

describe('berth-helper install --org-key / --policy-url (managed machines)', () => {
  it('records the org key and the policy URL; an upgrade that names them replaces them and keeps the rest', async () => {
    const run = await runIsolated(`
      mkdir -p /opt/Berth
      node "$FIXTURES/cli/berth.js" policy keygen --out /run/keys >/dev/null
      node "$FIXTURES/cli/berth.js" policy keygen --out /run/keys2 >/dev/null
      node "$HELPER" install --app /opt/Berth --uid $TEST_UID --org-key /run/keys/org-key.pub.pem --policy-url HTTPS://MDM.Example.com/berth/policy.json
      echo "== key1"; cat /run/keys/org-key.pub.pem
      echo "== key2"; cat /run/keys2/org-key.pub.pem
      echo "== config"; cat /etc/berth/helper.json
      pid1=$(${HELPER_PID})
      echo "== upgrade"; node "$HELPER" install --app /opt/Berth --uid $TEST_UID --policy-url http://127.0.0.1:8080/policy.json
      echo "== url kept helper $([ "$(${HELPER_PID})" = "$pid1" ] && echo yes || echo no)"
      echo "== config2"; cat /etc/berth/helper.json
      echo "== rekey"; node "$HELPER" install --app /opt/Elsewhere --uid $OTHER_UID --org-key /run/keys2/org-key.pub.pem
      pid2=$(${HELPER_PID})
      echo "== key restarted helper $([ -n "$pid2" ] && [ "$pid2" != "$pid1" ] && echo yes || echo no)"
      echo "== config3"; cat /etc/berth/helper.json
      echo "== hello"; ${AS_USER} node "$FIXTURES/helper-client.js" hello /run/berth/helper.sock
      echo "== uninstall"; node "$HELPER" uninstall
      echo "== end"
    `);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const section = (name: string): string => run.stdout.split(`== ${name}`)[1]!.split('\n== ')[0]!.trim();
    const [key1, key2] = [section('key1'), section('key2')];
    const config = JSON.parse(section('config')) as Record<string, unknown>;
    expect(config).toMatchObject({ allowUids: [users.test.uid], appPath: '/opt/Berth', policyUrl: 'https://mdm.example.com/berth/policy.json' });
    expect(String(config.orgPublicKey).trim()).toBe(key1);
    expect(run.stdout).toContain('policy URL: https://mdm.example.com/berth/policy.json');
    // Upgrade naming only the URL: the URL changes, nothing else. The helper never reads it (the app does), so it is not restarted.
    expect(section('upgrade')).toContain('set policyUrl in /etc/berth/helper.json');
    expect(section('upgrade')).toMatch(/^kept the running helper \(pid \d+\): neither its program nor anything it reads only at start changed, so no restart$/m);
    expect(section('url kept helper')).toBe('yes');
    const config2 = JSON.parse(section('config2')) as Record<string, unknown>;
    expect(config2).toEqual({ ...config, policyUrl: 'http://127.0.0.1:8080/policy.json', linkDir: '/usr/local/bin', limits: expect.any(Object) });
    // Upgrade naming a new org key: the key changes, the user is enrolled, and where the app is stays as installed.
    expect(section('rekey')).toContain('set orgPublicKey in /etc/berth/helper.json');
    expect(section('rekey')).not.toContain('set policyUrl');
    // The helper reads the key only at start: a new one restarts it, whose every policy check then uses it.
    expect(section('rekey')).toMatch(/^restarting the running helper: orgPublicKey changed in its config, which it reads only at start$/m);
    expect(section('key restarted helper')).toBe('yes');
    const config3 = JSON.parse(section('config3')) as Record<string, unknown>;
    expect(String(config3.orgPublicKey).trim()).toBe(key2);
    expect(config3).toMatchObject({ allowUids: [users.test.uid, users.other.uid], appPath: '/opt/Berth', policyUrl: 'http://127.0.0.1:8080/policy.json' });
    expect(JSON.parse(section('hello'))).toMatchObject({ ok: true, uid: users.test.uid });
    expect(section('uninstall')).toContain('uninstalled: nothing of Berth is left');
  });

  it('refuses a bad policy URL, one without an org key, and one in user mode, changing nothing', async () => {
    const run = await runIsolated(`
      mkdir -p /opt/Berth
      node "$FIXTURES/cli/berth.js" policy keygen --out /run/keys >/dev/null
      K=/run/keys/org-key.pub.pem
      for args in "--policy-url http://mdm.example.com/p.json --org-key $K" "--policy-url https://admin:pw@mdm.example.com/p.json --org-key $K" "--policy-url ftp://mdm.example.com/p.json --org-key $K" "--policy-url https://mdm.example.com/p.json" "--policy-url https://mdm.example.com/p.json#x --org-key $K"; do
        set +e; node "$HELPER" install --app /opt/Berth --uid $TEST_UID $args 2>&1; echo "== code $?"; set -e
      done
      set +e; node "$HELPER" install --user berth-test --app /opt/Berth --policy-url https://mdm.example.com/p.json 2>&1; echo "== code $?"; set -e
      echo "== left"; { ${LIST} | grep -v '^/run/keys' || true; }
      echo "== installed"; node "$HELPER" install --app /opt/Berth --uid $TEST_UID >/dev/null
      cp /etc/berth/helper.json /run/config.before
      set +e; node "$HELPER" install --app /opt/Berth --uid $TEST_UID --policy-url https://mdm.example.com/p.json 2>&1; echo "== code $?"; set -e
      echo "== unchanged $(cmp -s /etc/berth/helper.json /run/config.before && echo yes || echo no)"
      node "$HELPER" uninstall >/dev/null
      echo "== end"
    `);
    expect(run.stdout.match(/== code 64/g)).toHaveLength(7);
    expect(run.stdout).toContain('--policy-url must use https; plain http is allowed only to this machine (localhost, 127.0.0.1, [::1])');
    expect(run.stdout).toContain('--policy-url must not contain a user name or password');
    expect(run.stdout).toContain('--policy-url must use https (not ftp:)');
    expect(run.stdout).toContain('--policy-url must not have a #fragment');
    expect(run.stdout.match(/--policy-url needs --org-key FILE: without the organization key no fetched policy can be accepted/g)).toHaveLength(2);
    expect(run.stdout).toContain('--user installs no helper: it takes only --app');
    expect(run.stdout.split('== left')[1]!.split('\n== ')[0]!.trim()).toBe('');
    // An installed helper without an org key: a URL alone is refused and the config stays as it was.
    expect(run.stdout).toContain('== unchanged yes');
  });
});

describe('berth-helper install --user (user mode)', () => {
  it('links the CLI and adds the hosts entries for one account, runs no helper, and uninstalls cleanly', async () => {
    const run = await runIsolated(`
      mkdir -p /usr/local/bin /opt/Berth/resources/bin
      install -m 0755 /dev/null /opt/Berth/resources/bin/berth
      printf '127.0.0.1 localhost\\n# mine\\n' > /etc/hosts
      cp /etc/hosts /run/hosts.before
      node "$HELPER" install --user berth-test --app /opt/Berth
      echo "== link"; readlink /usr/local/bin/berth
      echo "== hosts"; cat /etc/hosts
      echo "== helper"; ls /run/berth 2>&1 || true
      echo "== status"; ${AS_USER} node "$FIXTURES/cli/berth.js" helper status --json; echo "exit $?"
      echo "== uninstall"; node "$HELPER" uninstall
      echo "== restored $(cmp -s /etc/hosts /run/hosts.before && echo yes || echo no)"
      echo "== left"; ls /usr/local/bin; ls /etc/berth 2>&1 || true; ls /var/lib
      echo "== end"
    `);
    expect(run.stderr).toBe('');
    const section = (name: string): string => run.stdout.split(`== ${name}`)[1]!.split('\n== ')[0]!.trim();
    expect(section('link')).toBe('/opt/Berth/resources/bin/berth');
    expect(section('hosts')).toContain('127.0.0.1 berth.internal');
    expect(section('hosts')).toMatch(/^127\.0\.0\.1 localhost\n# mine\n/);
    // No socket directory, so no helper: user mode runs none.
    expect(section('helper')).toBe("ls: cannot access '/run/berth': No such file or directory");
    const status = section('status');
    expect(JSON.parse(status.slice(0, status.lastIndexOf('exit')))).toMatchObject({
      state: 'user-mode',
      userMode: { user: users.test.name, uid: users.test.uid, limits: expect.arrayContaining([expect.stringContaining('below 1024')]) },
    });
    expect(status).toMatch(/exit 0$/);
    expect(section('restored')).toBe('yes');
    expect(section('left')).toMatch(/^ls: cannot access '\/etc\/berth': No such file or directory$/);
  });

  it('refuses a user that does not exist, and root, changing nothing', async () => {
    const run = await runIsolated(`
      mkdir -p /usr/local/bin
      set +e
      node "$HELPER" install --user nosuchuser --app /opt/Berth; echo "== code $?"
      node "$HELPER" install --user root --app /opt/Berth; echo "== code $?"
      node "$HELPER" install --user 'bad;name' --app /opt/Berth; echo "== code $?"
      node "$HELPER" install --user berth-test --uid 5 --app /opt/Berth; echo "== code $?"
      set -e
      echo "== left"; ${LIST}
    `);
    expect(run.stdout.match(/== code 1/g)).toHaveLength(3);
    expect(run.stdout).toContain('== code 64');
    expect(run.stderr).toContain('there is no user "nosuchuser"');
    expect(run.stderr).toContain('user "root" is root');
    expect(run.stderr).toContain('"bad;name" is not a valid user name');
    expect(run.stdout.split('== left')[1]!.trim()).toBe('/usr/local/bin');
  });
});
