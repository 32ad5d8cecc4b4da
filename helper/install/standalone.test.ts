import { describe, expect, inject, it } from 'vitest';
import { runIsolated } from '../../test/support/isolated-system';

/**
 * Standalone mode (no service manager) with the real installer, supervisor
 * and helper, as root in a machine of its own (isolated-system.ts); clients
 * run as the test user.
 */
const users = inject('users');
const AS_USER = 'setpriv --reuid=$TEST_UID --regid=$TEST_GID --clear-groups --';
/** Shell helpers: the processes of a process group, and the helper (the supervisor's child). */
const PRELUDE = `
group() { ps -e -o pid=,pgid=,stat=,args= | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { $2 = ""; $3 = ""; print }'; }
helper_of() { ps -e -o pid=,ppid= | awk -v p="$1" '$2 == p { print $1 }'; }
hello() { ${AS_USER} node "$FIXTURES/helper-client.js" hello /run/berth/helper.sock; }
`;

/** The text after "== NAME" (on its line or below it), up to the next line that starts with "== ". */
function sections(stdout: string): (name: string) => string {
  return (name) => {
    const rest = stdout.split(new RegExp(`^== ${name}(?: |\n|$)`, 'm'))[1] ?? '';
    const end = rest.search(/^== /m);
    return (end < 0 ? rest : rest.slice(0, end)).trim();
  };
}

describe('standalone mode: supervised', () => {
  it('restarts the helper after kill -9 (the next request just works), stays down after a clean stop, and uninstall leaves no process', async () => {
    const run = await runIsolated(`${PRELUDE}
      mkdir -p /opt/Berth
      node "$HELPER" install --app /opt/Berth --uid $TEST_UID > /run/install.out
      sup=$(cat /run/berth/helper.pid)
      first=$(helper_of $sup)
      ino=$(stat -c %i /run/berth/helper.sock)
      echo "== group"; group $sup
      kill -KILL $first
      # No wait: the supervisor's socket takes the connection and the next helper serves it.
      echo "== hello after kill"; hello
      second=$(helper_of $sup)
      echo "== restarted $([ -n "$second" ] && [ "$second" != "$first" ] && echo yes || echo no)"
      echo "== same socket $([ "$(stat -c %i /run/berth/helper.sock)" = "$ino" ] && echo yes || echo no)"
      kill -KILL $second
      echo "== hello after a second kill"; hello
      echo "== supervisor log"; grep 'berth-helper supervisor' /var/log/berth/helper.log
      echo "== install said"; cat /run/install.out
      kill -TERM $(helper_of $sup)
      while [ -n "$(group $sup)" ]; do sleep 0.05; done
      echo "== after a clean stop"; ls -A /run/berth; group $sup
      echo "== start"; node "$HELPER" start
      echo "== start again"; node "$HELPER" start
      echo "== hello after start"; hello
      sup2=$(cat /run/berth/helper.pid)
      echo "== uninstall"; node "$HELPER" uninstall
      echo "== left"; group $sup2; ls -A /run/berth /usr/local /var/lib 2>&1 || true
      echo "== end"
    `);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const section = sections(run.stdout);
    // One supervisor (a shell, not a second Node) and one helper, in one process group.
    const group = section('group').split('\n');
    expect(group).toHaveLength(2);
    expect(group[0]).toMatch(/^\s*\d+\s+\/bin\/sh -c .* berth-helper-supervisor \/run\/berth\/helper\.sock .*serve --config \/etc\/berth\/helper\.json$/s);
    expect(group[1]).toMatch(/^\s*\d+\s+\S*node \/usr\/local\/libexec\/berth\/berth-helper\.js serve --config \/etc\/berth\/helper\.json$/);
    expect(JSON.parse(section('hello after kill'))).toMatchObject({ ok: true, uid: users.test.uid });
    expect(section('restarted')).toBe('yes');
    expect(section('same socket')).toBe('yes');
    expect(JSON.parse(section('hello after a second kill'))).toMatchObject({ ok: true });
    expect(section('supervisor log').split('\n')).toEqual([
      expect.stringMatching(/^berth-helper supervisor: the helper ended with status 137 after \d+ s; starting it again in 0 s$/),
      expect.stringMatching(/^berth-helper supervisor: the helper ended with status 137 after \d+ s; starting it again in 1 s$/),
    ]);
    expect(section('install said')).toContain('which restarts it if it dies');
    expect(section('install said')).toMatch(/after this machine restarts, start it with: sudo \S*node \/usr\/local\/libexec\/berth\/berth-helper\.js start/);
    // SIGTERM is a stop: no restart, and the supervisor took its socket with it.
    expect(section('after a clean stop')).toBe('helper.pid');
    expect(section('start')).toMatch(/standalone mode: started the helper and its supervisor \(pid \d+\)[^]*started: the helper is running/);
    expect(section('start again')).toMatch(/the helper is already running \(supervisor pid \d+\)\nthe helper was already running/);
    expect(JSON.parse(section('hello after start'))).toMatchObject({ ok: true });
    expect(section('uninstall')).toContain('uninstalled: nothing of Berth is left');
    expect(section('left')).toBe("ls: cannot access '/run/berth': No such file or directory\n/usr/local:\n\n/var/lib:");
  });

  it('does not exit for idleness under the supervisor; uninstall stops a helper whose supervisor was killed alone', async () => {
    const run = await runIsolated(`${PRELUDE}
      mkdir -p /opt/Berth
      node "$HELPER" install --app /opt/Berth --uid $TEST_UID >/dev/null
      kill -TERM -- -$(cat /run/berth/helper.pid)
      while [ -S /run/berth/helper.sock ]; do sleep 0.05; done
      node -e 'const f = "/etc/berth/helper.json"; const c = JSON.parse(require("fs").readFileSync(f)); c.limits = { idleExitMs: 100 }; require("fs").writeFileSync(f, JSON.stringify(c))'
      node "$HELPER" start >/dev/null
      sup=$(cat /run/berth/helper.pid)
      first=$(helper_of $sup)
      hello >/dev/null
      sleep 1
      echo "== hello"; hello
      echo "== same helper $([ "$(helper_of $sup)" = "$first" ] && echo yes || echo no)"
      echo "== log"; grep -c 'berth-helper: idle' /var/log/berth/helper.log || true
      echo "== env"; tr '\\0' '\\n' < /proc/$first/environ | sort
      # The supervisor killed alone: its helper lives on, and uninstall still finds it by its process group.
      kill -KILL $sup
      echo "== orphan"; group $sup
      echo "== uninstall"; node "$HELPER" uninstall | head -1
      echo "== left"; group $sup
      echo "== end"
    `);
    expect(run.stderr).toBe('');
    const section = sections(run.stdout);
    expect(JSON.parse(section('hello'))).toMatchObject({ ok: true });
    expect(section('same helper')).toBe('yes');
    expect(section('log')).toBe('0');
    // The helper gets the socket by systemd's protocol, named as the supervisor's, and nothing of the installer's environment.
    expect(section('env').split('\n')).toEqual([
      'LISTEN_FDNAMES=berth-standalone',
      'LISTEN_FDS=1',
      expect.stringMatching(/^LISTEN_PID=\d+$/),
      'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
    ]);
    expect(section('orphan')).toMatch(/^\s*\d+\s+\S*node \/usr\/local\/libexec\/berth\/berth-helper\.js serve --config \/etc\/berth\/helper\.json$/);
    expect(section('uninstall')).toMatch(/^stopped the helper \(pid \d+\)$/);
    expect(section('left')).toBe('');
  });
});

describe('standalone mode: the uninstall operation', () => {
  it("the last account's uninstall over the socket leaves nothing: no process, no socket, no folder", async () => {
    const run = await runIsolated(`${PRELUDE}
      mkdir -p /opt/Berth/resources/bin /usr/local/bin
      install -m 0755 /dev/null /opt/Berth/resources/bin/berth
      node "$HELPER" install --app /opt/Berth --uid $TEST_UID >/dev/null
      sup=$(cat /run/berth/helper.pid)
      ${AS_USER} node "$FIXTURES/helper-client.js" request /run/berth/helper.sock ensureHosts '{}' >/dev/null
      ${AS_USER} node "$FIXTURES/helper-client.js" request /run/berth/helper.sock installSymlinks '{"names":["berth"]}' >/dev/null
      echo "== reply"; ${AS_USER} node "$FIXTURES/helper-client.js" request /run/berth/helper.sock uninstall '{}'
      # The supervisor ends with its helper (status 0: a stop asked for).
      while [ -n "$(group $sup)" ]; do sleep 0.05; done
      echo "== left"; find /usr/local /var/lib /var/log -mindepth 1; ls -d /run/berth /etc/berth 2>/dev/null || true
      echo "== hosts $(grep -c berth /etc/hosts || true)"
      echo "== end"
    `);
    expect(run.stderr).toBe('');
    const section = sections(run.stdout);
    const reply = JSON.parse(section('reply')) as { ok: boolean; result: { scope: string; removed: string[]; kept: unknown[] } };
    expect(reply).toMatchObject({ ok: true, result: { scope: 'machine', kept: [] } });
    // Everything it removed, by the time it answered: the socket and its folder included.
    expect(reply.result.removed).toEqual(
      expect.arrayContaining(['/usr/local/bin/berth', '/etc/hosts: the berth block', '/usr/local/libexec/berth', '/etc/berth', '/run/berth/helper.sock', '/run/berth']),
    );
    expect(section('left')).toBe('/usr/local/bin');
    expect(section('hosts')).toBe('0');
  });
});

describe('standalone mode after a reboot', () => {
  it('nothing runs it; the CLI says so, and the command it gives starts it again', async () => {
    const run = await runIsolated(`${PRELUDE}
      mkdir -p /opt/Berth
      node "$HELPER" install --app /opt/Berth --uid $TEST_UID >/dev/null
      # A reboot, as far as Berth can tell: every process gone, /run emptied (a tmpfs), the rest kept.
      kill -KILL -- -$(cat /run/berth/helper.pid); rm -rf /run/berth
      set +e
      echo "== status"; ${AS_USER} node "$FIXTURES/cli/berth.js" helper status --json; echo "exit $?"
      set -e
      fix=$({ ${AS_USER} node "$FIXTURES/cli/berth.js" helper status --json || true; } | node -e 'const c = JSON.parse(require("fs").readFileSync(0, "utf8")).diagnosis.command; process.stdout.write(c.slice("sudo ".length))')
      echo "== fix"; echo "$fix"
      echo "== run"; eval "$fix"
      echo "== hello"; hello
      echo "== status2"; ${AS_USER} node "$FIXTURES/cli/berth.js" helper status --json
      node "$HELPER" uninstall >/dev/null
      echo "== end"
    `);
    expect(run.stderr).toBe('');
    const section = sections(run.stdout);
    const status = section('status');
    expect(JSON.parse(status.slice(0, status.lastIndexOf('exit')))).toMatchObject({
      state: 'not-running',
      message: 'The helper is installed but not running: this machine has no service manager, so nothing starts it at boot.',
      diagnosis: {
        condition: 'not-running',
        command: expect.stringMatching(/^sudo \S+ \S+\/helper\/berth-helper\.js start$/),
        fix: expect.stringMatching(/^Start it: run "sudo \S+ \S+\/helper\/berth-helper\.js start", or choose "Start helper" in Berth/),
        prompt: 'install',
      },
    });
    expect(status).toMatch(/exit 3$/);
    expect(section('fix')).toMatch(/^\S*node \S+\/helper\/berth-helper\.js start$/);
    expect(section('run')).toContain('started: the helper is running');
    expect(JSON.parse(section('hello'))).toMatchObject({ ok: true, uid: users.test.uid });
    expect(JSON.parse(section('status2'))).toMatchObject({ state: 'running' });
  });
});

describe('berth-helper start', () => {
  it('refuses clearly when there is nothing to start, when not root, and with arguments, changing nothing', async () => {
    const run = await runIsolated(`${PRELUDE}
      set +e
      echo "== not installed"; node "$HELPER" start 2>&1; echo "code $?"
      echo "== left"; ls -A /run/berth /etc/berth 2>&1
      echo "== as user"; ${AS_USER} node "$HELPER" start 2>&1; echo "code $?"
      echo "== args"; node "$HELPER" start --now 2>&1; echo "code $?"
      echo "== help"; node "$HELPER" start --help; echo "code $?"
      mkdir -p /usr/local/bin /opt/Berth/resources/bin
      install -m 0755 /dev/null /opt/Berth/resources/bin/berth
      node "$HELPER" install --user berth-test --app /opt/Berth >/dev/null
      echo "== user mode"; node "$HELPER" start 2>&1; echo "code $?"
      node "$HELPER" uninstall >/dev/null
      node "$HELPER" install --app /opt/Berth --uid $TEST_UID >/dev/null
      kill -KILL -- -$(cat /run/berth/helper.pid); rm -rf /run/berth
      chmod 0666 /etc/berth/helper.json
      echo "== bad config"; node "$HELPER" start 2>&1; echo "code $?"
      echo "== left2"; ls -A /run/berth 2>&1
      echo "== end"
    `);
    const section = sections(run.stdout);
    expect(section('not installed')).toBe(
      'berth-helper: the helper is not installed: install it first (berth-helper install --help)\ncode 1',
    );
    expect(section('left')).toBe("ls: cannot access '/run/berth': No such file or directory\nls: cannot access '/etc/berth': No such file or directory");
    expect(section('as user')).toBe('berth-helper: start must run as root (try: sudo berth-helper start)\ncode 77');
    expect(section('args')).toBe('berth-helper: start takes no arguments (got --now)\ncode 64');
    expect(section('help')).toMatch(/^Usage:\n {2}berth-helper start\n[^]*after each restart of the machine[^]*\ncode 0$/);
    expect(section('user mode')).toBe('berth-helper: this machine is in user mode: no helper runs by design (berth-helper install --help)\ncode 1');
    expect(section('bad config')).toMatch(
      /^berth-helper: cannot use \/etc\/berth\/helper\.json: \/etc\/berth\/helper\.json is writable by group or others; install again to rewrite it\ncode 78$/,
    );
    // Nothing was started on a config root does not own alone.
    expect(section('left2')).toBe("ls: cannot access '/run/berth': No such file or directory");
  });
});
