import { describe, expect, it } from 'vitest';
import { runIsolated } from '../../test/support/isolated-system';

/** Every path under the directories an install may touch (the isolated ones start empty). */
const LIST = "{ find /usr/local /var/lib /var/log /run /etc/berth -mindepth 1 -not -path '/run/dbus*' -not -path '/run/mount*' -not -path '/run/test-*' 2>/dev/null || true; } | sort";
const AS_USER = 'setpriv --reuid=$TEST_UID --regid=$TEST_GID --clear-groups --';
const CLIENT = `${AS_USER} node "$FIXTURES/helper-client.js"`;

/**
 * An installed standalone helper with Berth's links and hosts block in place,
 * then stopped: the next `serve --config` (a reboot, a restart after a crash)
 * is "its next start". CONFIRM_MS shortens the second look for the test.
 */
const SETUP = `
  LOG=/run/test-serve.log
  mkdir -p $APP/resources/bin /usr/local/bin
  printf '#!/bin/sh\\n' > $APP/resources/bin/berth && chmod 0755 $APP/resources/bin/berth
  node "$HELPER" install --app $APP --uid $TEST_UID $INSTALL_ARGS >/dev/null
  ${CLIENT} request /run/berth/helper.sock ensureHosts '{}' >/dev/null
  ${CLIENT} request /run/berth/helper.sock installSymlinks '{"names":["berth"]}' >/dev/null
  kill -TERM "$(cat /run/berth/helper.pid)"; while [ -S /run/berth/helper.sock ]; do sleep 0.05; done
  node -e 'const f="/etc/berth/helper.json";const c=JSON.parse(require("fs").readFileSync(f));c.limits={...c.limits,appGoneConfirmMs:Number(process.argv[1])};require("fs").writeFileSync(f,JSON.stringify(c))' "$CONFIRM_MS"
  start() { : > "$LOG"; node "$HELPER" serve --config /etc/berth/helper.json 2>"$LOG" & pid=$!; while ! grep -q 'serving on' "$LOG"; do kill -0 $pid || { cat "$LOG" >&2; return 1; }; sleep 0.05; done; }
  wait_for() { while ! grep -q "$1" "$LOG"; do sleep 0.05; done; }
`;

describe('the helper removes itself when its app is gone', () => {
  it('at its next start: links, hosts block, program, config and state go; the audit log stays and says why', async () => {
    const run = await runIsolated(`
      CONFIRM_MS=200 APP=/opt/Berth INSTALL_ARGS=
      ${SETUP}
      echo "== before"; ls /usr/local/bin; grep -c berth /etc/hosts
      rm -rf /opt/Berth
      start; set +e; wait $pid; code=$?; set -e
      echo "== code $code"
      echo "== log"; cat "$LOG"
      echo "== hosts $(grep -c berth /etc/hosts || true)"
      echo "== left"; ${LIST}
      echo "== audit"; tail -n 1 /var/log/berth/audit.log
      echo "== end"
    `);
    expect(run.stderr).toBe('');
    const section = (name: string): string => run.stdout.split(`== ${name}`)[1]!.split('\n== ')[0]!.trim();
    expect(section('before')).toMatch(/^berth\n[1-9]/);
    expect(run.stdout).toContain('== code 0');
    expect(section('log')).toContain('the app at /opt/Berth is gone, so the helper removes itself');
    expect(section('log')).toContain('removed /usr/local/bin/berth');
    expect(section('hosts')).toBe('0');
    // Only the log directory is left (and the empty system directories the isolated machine had).
    expect(section('left').split('\n')).toEqual(['/usr/local/bin', '/var/log/berth', '/var/log/berth/audit.log', '/var/log/berth/helper.log']);
    expect(JSON.parse(section('audit'))).toMatchObject({ op: 'uninstall', result: 'ok', peer: { uid: 0 } });
    expect(section('audit')).toContain('the app at /opt/Berth is gone');
  });

  it('not while the app is only away for a moment (an update replacing it), nor when it is there', async () => {
    const run = await runIsolated(`
      CONFIRM_MS=5000 APP=/opt/Berth INSTALL_ARGS=
      ${SETUP}
      before=$(${LIST})
      mv /opt/Berth /opt/Berth.updating
      start; wait_for 'looking again'
      # The first look found it gone; the update puts it back well within the second look's delay.
      mv /opt/Berth.updating /opt/Berth
      wait_for 'is back'
      echo "== alive $(kill -0 $pid && echo yes || echo no)"
      echo "== hello"; ${CLIENT} hello /run/berth/helper.sock
      kill -TERM $pid; wait $pid || true
      echo "== same $([ "$before" = "$(${LIST})" ] && echo yes || { echo no; ${LIST}; })"
      echo "== links"; ls /usr/local/bin
      echo "== log"; cat "$LOG"
      echo "== end"
    `);
    expect(run.stderr).toBe('');
    const section = (name: string): string => run.stdout.split(`== ${name}`)[1]!.split('\n== ')[0]!.trim();
    expect(section('alive')).toBe('yes');
    expect(JSON.parse(section('hello'))).toMatchObject({ ok: true });
    expect(section('links')).toBe('berth');
    expect(section('log')).not.toContain('removes itself');
    expect(section('same')).toBe('yes');
  });

  it('never when it cannot see the app (a hidden home directory): it says so and serves', async () => {
    const run = await runIsolated(`
      CONFIRM_MS=200 APP=/opt/home/alice/Applications/Berth INSTALL_ARGS=
      ${SETUP}
      # What systemd's ProtectHome= does to the helper: the home holding the app is not there to look at.
      mount -t tmpfs -o mode=0755 hidden /opt/home
      start
      echo "== alive $(kill -0 $pid && echo yes || echo no)"
      kill -TERM $pid; wait $pid || true
      echo "== log"; cat "$LOG"
      echo "== config $([ -f /etc/berth/helper.json ] && echo kept || echo gone)"
      echo "== end"
    `);
    expect(run.stderr).toBe('');
    const section = (name: string): string => run.stdout.split(`== ${name}`)[1]!.split('\n== ')[0]!.trim();
    expect(section('alive')).toBe('yes');
    expect(section('log')).toContain('cannot tell whether the app is still installed: cannot see /opt/home/alice/Applications (ENOENT)');
    expect(section('config')).toBe('kept');
  });

  it('never for a managed helper: deleting the app must not lift the organization policy', async () => {
    const run = await runIsolated(`
      node "$FIXTURES/cli/berth.js" policy keygen --out /run/test-keys >/dev/null
      CONFIRM_MS=200 APP=/opt/Berth INSTALL_ARGS="--org-key /run/test-keys/org-key.pub.pem"
      ${SETUP}
      before=$(${LIST})
      rm -rf /opt/Berth
      start; wait_for 'managed by your organization'
      echo "== hello"; ${CLIENT} hello /run/berth/helper.sock
      kill -TERM $pid; wait $pid || true
      echo "== same $([ "$before" = "$(${LIST})" ] && echo yes || { echo no; ${LIST}; })"
      echo "== log"; cat "$LOG"
      echo "== end"
    `);
    expect(run.stderr).toBe('');
    const section = (name: string): string => run.stdout.split(`== ${name}`)[1]!.split('\n== ')[0]!.trim();
    expect(JSON.parse(section('hello'))).toMatchObject({ ok: true });
    expect(section('same')).toBe('yes');
    expect(section('log')).toContain('only an administrator removes it (berth-helper uninstall, as root)');
    expect(section('log')).not.toContain('removes itself');
  });
});
