import { describe, expect, inject, it } from 'vitest';
import { runIsolated } from '../../test/support/isolated-system';

const users = inject('users');

/** Lists every path under the directories an install may touch (the isolated ones start empty). */
const LIST = "{ find /usr/local /var/lib /var/log /run /etc/berth -mindepth 1 -not -path '/run/dbus*' -not -path '/run/mount*' -not -path '/usr/local/bin' 2>/dev/null || true; } | sort";
const AS_TEST = 'setpriv --reuid=$TEST_UID --regid=$TEST_GID --clear-groups --';
const AS_OTHER = 'setpriv --reuid=$OTHER_UID --regid=$OTHER_GID --clear-groups --';
/** The machine's "nobody": a third account that never enrols. */
const AS_NOBODY = 'setpriv --reuid=65534 --regid=65534 --clear-groups --';
const CLIENT = 'node "$FIXTURES/helper-client.js"';
const SOCK = '/run/berth/helper.sock';
/** The standalone helper: the supervisor's child (the pid file names the supervisor). */
const HELPER_PID = 'ps -e -o pid=,ppid= | awk -v p="$(cat /run/berth/helper.pid)" \'$2 == p { print $1 }\'';
/** Waits (bounded) until FILE holds a line matching PATTERN. */
const WAIT_FOR = 'wait_for() { for _ in $(seq 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; echo "no $2 in $1" >&2; return 1; }';

/** The text after `== name` (on its line or the next ones) up to the next section. */
function sections(stdout: string): (name: string) => string {
  return (name) => {
    const start = new RegExp(`(?:^|\n)== ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=[ \n])`).exec(stdout);
    if (start === null) throw new Error(`no section "${name}" in:\n${stdout}`);
    return stdout.slice(start.index + start[0].length).split('\n== ')[0]!.trim();
  };
}

const json = (text: string): Record<string, unknown> => JSON.parse(text.trim().split('\n').pop()!) as Record<string, unknown>;

describe('several users on one machine (standalone mode, as root with --uid)', () => {
  it('enrols a second user, keeps each one’s ports and shared wants apart, unenrols one, then removes everything', async () => {
    const run = await runIsolated(`
      mkdir -p /usr/local/bin /opt/Berth/resources/bin
      install -m 0755 /dev/null /opt/Berth/resources/bin/berth
      cp /etc/hosts /opt/hosts.before
      ${WAIT_FOR}
      node "$HELPER" install --app /opt/Berth --uid $TEST_UID >/dev/null
      before=$(${HELPER_PID})
      # The first user's work in flight: a connection held open, and a privileged trace of a Berth process of theirs.
      cp /bin/sleep /opt/Berth/berth-app
      ${AS_TEST} /opt/Berth/berth-app 60 & app=$!
      ${AS_TEST} timeout 60 ${CLIENT} pause ${SOCK} /opt/go > /opt/held.out & held=$!
      ${AS_TEST} timeout 60 ${CLIENT} request ${SOCK} traceProcesses '{"seconds":10}' > /opt/trace.out & trace=$!
      wait_for /opt/held.out ready; wait_for /opt/trace.out progress
      echo "== enrol"; node "$HELPER" install --app /opt/Berth --uid $OTHER_UID
      echo "== same helper $([ "$(${HELPER_PID})" = "$before" ] && echo yes || echo no)"
      echo "== other at once"; ${AS_OTHER} ${CLIENT} hello ${SOCK}
      touch /opt/go; wait $held
      echo "== held"; tail -n 1 /opt/held.out
      echo "== enrol again"; node "$HELPER" install --app /opt/Berth --uid $OTHER_UID | grep -E 'enrolled|kept the existing config|no restart'
      echo "== config"; cat /etc/berth/helper.json
      echo "== socket"; stat -c '%U %G %a' ${SOCK}
      echo "== hello test"; ${AS_TEST} ${CLIENT} hello ${SOCK}
      echo "== hello other"; ${AS_OTHER} ${CLIENT} hello ${SOCK}
      echo "== hello nobody"; ${AS_NOBODY} ${CLIENT} hello ${SOCK}
      echo "== bind test"; ${AS_TEST} ${CLIENT} bind ${SOCK} 127.0.0.1 80 tcp
      echo "== bind other"; ${AS_OTHER} ${CLIENT} bind ${SOCK} 127.0.0.1 81 tcp
      for who in "${AS_TEST}" "${AS_OTHER}"; do
        $who ${CLIENT} request ${SOCK} ensureHosts '{}' >/dev/null
        $who ${CLIENT} request ${SOCK} installSymlinks '{"names":["berth"]}' >/dev/null
      done
      echo "== wants"; cat /var/lib/berth/wants.json; echo
      echo "== other removeHosts"; ${AS_OTHER} ${CLIENT} request ${SOCK} removeHosts '{}'
      echo "== other removeSymlinks"; ${AS_OTHER} ${CLIENT} request ${SOCK} removeSymlinks '{"names":["berth"]}'
      echo "== still there"; grep -c 'berth.internal' /etc/hosts; readlink /usr/local/bin/berth
      ${AS_OTHER} ${CLIENT} request ${SOCK} ensureHosts '{}' >/dev/null
      ${AS_OTHER} ${CLIENT} request ${SOCK} installSymlinks '{"names":["berth"]}' >/dev/null
      echo "== other uninstall"; ${AS_OTHER} ${CLIENT} request ${SOCK} uninstall '{}'
      echo "== after other"; ${AS_TEST} ${CLIENT} hello ${SOCK}; ${AS_OTHER} ${CLIENT} hello ${SOCK}
      echo "== kept for test"; grep -c 'berth.internal' /etc/hosts; readlink /usr/local/bin/berth; cat /var/lib/berth/wants.json; echo
      echo "== config2"; cat /etc/berth/helper.json
      echo "== reenrol"; node "$HELPER" install --app /opt/Berth --uid $OTHER_UID | grep enrolled
      echo "== root unenrol"; node "$HELPER" uninstall --uid $OTHER_UID
      echo "== after root unenrol"; ${AS_TEST} ${CLIENT} hello ${SOCK}; ${AS_OTHER} ${CLIENT} hello ${SOCK}
      echo "== still same helper $([ "$(${HELPER_PID})" = "$before" ] && echo yes || echo no)"
      wait $trace; kill $app; wait $app || true
      echo "== trace"; tail -n 1 /opt/trace.out
      echo "== last"; node "$HELPER" uninstall --uid $TEST_UID | tail -n 1
      echo "== left"; ${LIST}
      echo "== hosts restored $(cmp -s /etc/hosts /opt/hosts.before && echo yes || echo no)"
      echo "== bin"; ls -A /usr/local/bin
      echo "== end"
    `);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const section = sections(run.stdout);

    // Enrolment: one rewrite, said in one line. The running helper follows it in its config, so it is not
    // restarted (the same process), and says so; the first user's open connection and trace go on, the second is served at once.
    expect(section('enrol')).toContain(`enrolled uid ${users.other.uid} in /etc/berth/helper.json (beside uid ${users.test.uid})`);
    expect(section('enrol')).toMatch(new RegExp(`^enrolled uid ${users.other.uid}; the running helper \\(pid \\d+\\) serves it now, no restart$`, 'm'));
    expect(section('enrol')).toMatch(/installed \/usr\/local\/libexec\/berth\/berth-helper\.js \(root, 0755\): the same as before/);
    expect(section('enrol')).not.toMatch(/restarting|stopped|started the helper/);
    expect(section('same helper')).toBe('yes');
    expect(json(section('other at once'))).toMatchObject({ ok: true, uid: users.other.uid });
    expect(json(section('held'))).toMatchObject({ ok: true, info: { protocol: 1 } });
    expect(section('enrol again').split('\n')).toEqual([
      `kept the existing config /etc/berth/helper.json: uid ${users.other.uid} is already enrolled`,
      expect.stringMatching(/^kept the running helper \(pid \d+\): neither its program nor anything it reads only at start changed, so no restart$/),
    ]);
    expect(JSON.parse(section('config'))).toMatchObject({ allowUids: [users.test.uid, users.other.uid] });
    expect(section('socket')).toBe('root root 666');

    // Both enrolled users are served; the third account is told why, naming only itself.
    expect(json(section('hello test'))).toMatchObject({ ok: true, uid: users.test.uid });
    expect(json(section('hello other'))).toMatchObject({ ok: true, uid: users.other.uid });
    const nobody = json(section('hello nobody'));
    expect(nobody).toMatchObject({ ok: false, kind: 'request', code: 'UNAUTHORIZED' });
    expect(nobody.message).toMatch(/^Berth's helper on this machine is not set up for your account \(uid 65534\): /);
    expect(String(nobody.message)).not.toMatch(new RegExp(`${users.test.uid}|${users.other.uid}`));

    // Each user's low port is a socket of their own.
    expect(json(section('bind test'))).toEqual({ ok: true, address: '127.0.0.1', port: 80, protocol: 'tcp', owner: users.test.uid });
    expect(json(section('bind other'))).toEqual({ ok: true, address: '127.0.0.1', port: 81, protocol: 'tcp', owner: users.other.uid });

    // The shared hosts block and link are wanted by both: the second user's removal keeps them, and says why.
    expect(JSON.parse(section('wants'))).toEqual({
      version: 1,
      hosts: [users.test.uid, users.other.uid],
      links: { berth: [users.test.uid, users.other.uid] },
    });
    expect(json(section('other removeHosts'))).toMatchObject({
      ok: true,
      result: { changed: false, method: 'none', kept: 'still used by another account on this computer' },
    });
    expect(json(section('other removeSymlinks'))).toMatchObject({
      ok: true,
      result: { linkDir: '/usr/local/bin', links: [{ name: 'berth', action: 'kept', reason: 'still used by another account on this computer' }] },
    });
    expect(section('still there')).toBe('1\n/opt/Berth/resources/bin/berth');

    // The second user's own uninstall: only its enrolment and wants go; the helper, the block and the link stay for the first.
    const uninstall = json(section('other uninstall'));
    expect(uninstall).toMatchObject({ ok: true, result: { scope: 'account', removed: [] } });
    expect((uninstall.result as { kept: unknown[] }).kept).toEqual([
      { path: '/etc/hosts', reason: 'the berth block is still used by another account on this computer' },
      { path: '/usr/local/bin/berth', reason: 'still used by another account on this computer' },
      {
        path: SOCK,
        reason: `Berth's helper stays for the 1 other account enrolled on this computer; only your enrolment (uid ${users.other.uid}) was removed`,
      },
    ]);
    const [testAfter, otherAfter] = section('after other').split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(testAfter).toMatchObject({ ok: true, uid: users.test.uid });
    expect(otherAfter).toMatchObject({ ok: false, code: 'UNAUTHORIZED' });
    const kept = section('kept for test').split('\n');
    expect(kept.slice(0, 2)).toEqual(['1', '/opt/Berth/resources/bin/berth']);
    expect(JSON.parse(kept[2]!)).toEqual({ version: 1, hosts: [users.test.uid], links: { berth: [users.test.uid] } });
    expect(JSON.parse(section('config2'))).toMatchObject({ allowUids: [users.test.uid] });

    // The app's own Uninstall runs root's uninstall --uid: the same unenrolment, the helper still running for the first user.
    expect(section('reenrol')).toContain(`enrolled uid ${users.other.uid}`);
    expect(section('root unenrol')).toContain(`unenrolled uid ${users.other.uid} in /etc/berth/helper.json`);
    expect(section('root unenrol')).toContain(`unenrolled: the helper no longer serves uid ${users.other.uid}; it stays for the other accounts on this computer`);
    expect(section('root unenrol')).not.toContain('stopped the helper');
    const [testStill, otherGone] = section('after root unenrol').split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(testStill).toMatchObject({ ok: true });
    expect(otherGone).toMatchObject({ ok: false, code: 'UNAUTHORIZED' });

    // Neither the enrolments nor the unenrolments restarted the helper: the trace begun before them all ran its full 10 s.
    expect(section('still same helper')).toBe('yes');
    expect(json(section('trace'))).toMatchObject({ ok: true, progress: 40, result: { samples: 40, processes: [{ exe: '/opt/Berth/berth-app' }] } });

    // The last user's uninstall removes everything, the block and the link included.
    expect(section('last')).toBe('uninstalled: nothing of Berth is left');
    expect(section('left')).toBe('');
    expect(section('hosts restored')).toBe('yes');
    expect(section('bin')).toBe('');
  });

  it('a managed helper: one of several users may leave (no policy is lifted), the last one may not remove it', async () => {
    const run = await runIsolated(`
      mkdir -p /opt/Berth
      node "$FIXTURES/cli/berth.js" policy keygen --out /run/keys >/dev/null
      node "$HELPER" install --app /opt/Berth --uid $TEST_UID --org-key /run/keys/org-key.pub.pem >/dev/null
      node "$HELPER" install --app /opt/Berth --uid $OTHER_UID >/dev/null
      echo "== other leaves"; ${AS_OTHER} ${CLIENT} request ${SOCK} uninstall '{}'
      cp /etc/berth/helper.json /run/config.before
      echo "== test may not remove it"; ${AS_TEST} ${CLIENT} request ${SOCK} uninstall '{}'
      echo "== unchanged $(cmp -s /etc/berth/helper.json /run/config.before && echo yes || echo no)"
      echo "== still serves"; ${AS_TEST} ${CLIENT} hello ${SOCK}
      echo "== root"; node "$HELPER" uninstall | tail -n 1
      echo "== end"
    `);
    expect(run.stderr).toBe('');
    const section = sections(run.stdout);
    expect(json(section('other leaves'))).toMatchObject({ ok: true, result: { scope: 'account' } });
    expect(json(section('test may not remove it'))).toMatchObject({ ok: false, code: 'LOCKED_BY_POLICY' });
    expect(section('unchanged')).toBe('yes');
    expect(json(section('still serves'))).toMatchObject({ ok: true, uid: users.test.uid });
    expect(section('root')).toBe('uninstalled: nothing of Berth is left');
  });

  it('refuses a bad uninstall --uid before anything, and one for an account that is not enrolled changes nothing', async () => {
    const run = await runIsolated(`
      mkdir -p /opt/Berth
      node "$HELPER" install --app /opt/Berth --uid $TEST_UID >/dev/null
      cp /etc/berth/helper.json /run/config.before
      for args in "--uid 0" "--uid alice" "--uid 65535" "--uid" "--all"; do
        set +e; node "$HELPER" uninstall $args 2>&1; echo "== code $?"; set -e
      done
      echo "== not enrolled"; node "$HELPER" uninstall --uid $OTHER_UID
      echo "== unchanged $(cmp -s /etc/berth/helper.json /run/config.before && echo yes || echo no)"
      echo "== serves"; ${AS_TEST} ${CLIENT} hello ${SOCK}
      node "$HELPER" uninstall >/dev/null
      echo "== end"
    `);
    expect(run.stderr).toBe('');
    const section = sections(run.stdout);
    expect(run.stdout.match(/== code 64/g)).toHaveLength(5);
    expect(run.stdout.match(/uninstall --uid needs the numeric uid of an enrolled user \(not 0\)/g)).toHaveLength(3);
    expect(section('not enrolled')).toBe(`nothing to do: uid ${users.other.uid} is not enrolled, and the helper stays for the accounts it serves`);
    expect(section('unchanged')).toBe('yes');
    expect(json(section('serves'))).toMatchObject({ ok: true });
  });
});
