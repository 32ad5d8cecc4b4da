import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './constants';
import { assertPrivateMountNamespace } from './namespace';

/**
 * A real system bus and polkitd for tests that go through pkexec, private to
 * the test run's mount namespace: tmpfs mounts over /run/dbus and
 * /etc/polkit-1/rules.d (and a copy of the action files plus Berth's own
 * policy over /usr/share/polkit-1/actions) mean the machine's bus, rules and
 * /etc are never touched. Every test file of the run shares one bus and one
 * polkitd; they stop when the run's namespace does.
 */

const MARK = 'berth-polkit';
const BUS_DIR = '/run/dbus';
const RULES_DIR = '/etc/polkit-1/rules.d';
const ACTIONS_DIR = '/usr/share/polkit-1/actions';
export const POLKIT_RULES_FILE = join(RULES_DIR, '49-berth-test.rules');
export const POLKITD_LOG = join(BUS_DIR, 'polkitd.log');
const BERTH_POLICY = join(REPO_ROOT, 'build/linux/dev.berth.helper.policy');
const EXEC_ACTION = 'org.freedesktop.policykit.exec';
/** Berth's own action (build/linux/dev.berth.helper.policy): pkexec picks it for the program at its annotated path. */
export const BERTH_INSTALL_ACTION = 'dev.berth.helper.install';
export const BERTH_INSTALL_PATH = '/opt/Berth/resources/helper/berth-helper';

const execFileAsync = promisify(execFile);

/** Is `mountPoint` one of our tmpfs (or bind of one) in this namespace? */
function ownMount(mountPoint: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === mountPoint && line.includes(` - tmpfs ${MARK} `));
}

/**
 * The first process of this mount namespace (the shell `npm test` re-execs
 * into): the daemons live exactly as long as it does.
 */
function namespaceRootPid(): number {
  const ns = readlinkSync('/proc/self/ns/mnt');
  let pid = process.pid;
  for (;;) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields restart after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid <= 1) return pid;
    try {
      if (readlinkSync(`/proc/${ppid}/ns/mnt`) !== ns) return pid;
    } catch {
      return pid;
    }
    pid = ppid;
  }
}

// Runs under `flock` on this namespace's own nsfs inode, so test files that
// start at once set up one bus, and runs in other namespaces never wait.
const SETUP = String.raw`
set -euo pipefail
root_pid=$1 policy=$2 bus_dir=$3 rules_dir=$4 actions_dir=$5 mark=$6
mounted() { awk -v m="$1" -v tag=" - tmpfs $mark " '$5 == m && index($0, tag) { found = 1 } END { exit !found }' /proc/self/mountinfo; }
# The bus's standard directory; created empty on the machine's /run only if it is missing.
mkdir -p "$bus_dir"
mounted "$bus_dir" || mount -t tmpfs -o mode=0755 "$mark" "$bus_dir"
mounted "$rules_dir" || mount -t tmpfs -o mode=0755 "$mark" "$rules_dir"
if ! mounted "$actions_dir"; then
  mkdir -p "$bus_dir/actions"
  cp "$actions_dir"/*.policy "$bus_dir/actions/"
  cp "$policy" "$bus_dir/actions/"
  mount --bind "$bus_dir/actions" "$actions_dir"
fi
supervisor_pid_file=$bus_dir/berth-supervisor.pid
if [ -s "$supervisor_pid_file" ] && kill -0 "$(cat "$supervisor_pid_file")" 2>/dev/null; then exit 0; fi
rm -f "$bus_dir/pid" "$bus_dir/system_bus_socket"
setsid bash -c "$SUPERVISOR" berth-polkit-supervisor "$root_pid" "$bus_dir" </dev/null >>"$bus_dir/berth-supervisor.log" 2>&1 &
echo $! >"$supervisor_pid_file"
`;

// Both daemons are this script's children, so it reaps them. dbus-daemon
// prints its address once the socket listens; only then can polkitd connect.
// When the namespace's first process exits (tail --pid), or either daemon
// dies, the rest are stopped: nothing outlives the run.
const SUPERVISOR = String.raw`
root_pid=$1 bus_dir=$2
coproc BUS { exec dbus-daemon --system --nofork --print-address; }
bus_pid=$BUS_PID
read -r address <&"$BUS" # $BUS: the first element, the coprocess stdout
echo "system bus at $address"
/usr/lib/polkit-1/polkitd --no-debug >>"$bus_dir/polkitd.log" 2>&1 &
polkitd_pid=$!
tail --pid="$root_pid" -f /dev/null &
watch_pid=$!
wait -n "$bus_pid" "$polkitd_pid" "$watch_pid"
kill "$bus_pid" "$polkitd_pid" "$watch_pid" 2>/dev/null
wait
`;

async function polkitdOwnsItsName(): Promise<boolean> {
  try {
    const { stdout } = await execFileAsync('dbus-send', [
      '--system',
      '--print-reply',
      '--dest=org.freedesktop.DBus',
      '/org/freedesktop/DBus',
      'org.freedesktop.DBus.NameHasOwner',
      'string:org.freedesktop.PolicyKit1',
    ]);
    return /boolean true/.test(stdout);
  } catch {
    return false; // the bus is not listening yet
  }
}

function polkitdLog(): string {
  return existsSync(POLKITD_LOG) ? readFileSync(POLKITD_LOG, 'utf8').slice(-2000) : '(no polkitd log)';
}

/** Starts the private system bus and polkitd if they are not running; resolves once polkitd owns its name. */
export async function startPolkit(): Promise<void> {
  assertPrivateMountNamespace();
  execFileSync(
    'flock',
    ['--close', '--timeout', '60', '/proc/self/ns/mnt', 'bash', '-c', SETUP, 'berth-polkit-setup',
      String(namespaceRootPid()), BERTH_POLICY, BUS_DIR, RULES_DIR, ACTIONS_DIR, MARK],
    { env: { ...process.env, SUPERVISOR }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  // A readiness condition, not a delay: the deadline only turns a hang into a clear failure.
  const deadline = Date.now() + 30_000;
  while (!(await polkitdOwnsItsName())) {
    if (Date.now() > deadline) throw new Error(`polkitd did not take org.freedesktop.PolicyKit1 on the bus: ${polkitdLog()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

interface Account {
  uid: number;
  gid: number;
}

function account(user: string): Account {
  const id = (flag: string): number => Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * What polkitd now decides for `user` running pkexec: pkcheck's exit code
 * (0 authorized, 1 not authorized, 2 needs authentication) for a process of
 * that user (the shell that execs pkcheck).
 */
function execDecision({ uid, gid }: Account, action: string): number | null {
  return spawnSync(
    'setpriv',
    [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', '/bin/sh', '-c', `exec pkcheck --action-id ${action} --process $$`],
    { stdio: 'ignore', cwd: '/' },
  ).status;
}

const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/** polkitd rereads rules.d on change (inotify); wait until its decision shows it. */
function awaitDecision(who: Account, action: string, want: number | null, what: string): void {
  const deadline = Date.now() + 30_000;
  let got = execDecision(who, action);
  while (got !== want) {
    if (Date.now() > deadline) throw new Error(`polkitd did not pick up ${what} (pkcheck says ${got}, want ${want}): ${polkitdLog()}`);
    Atomics.wait(PAUSE, 0, 0, 20);
    got = execDecision(who, action);
  }
}

const DECISION = { YES: 0, NO: 1, AUTH_ADMIN: 2 } as const;

/**
 * Makes polkitd answer `result` when `user` runs pkexec (for `action`: by
 * default org.freedesktop.policykit.exec, the action of any program without
 * one of its own), until the returned undo removes the rule.
 * Both wait until polkitd's decision has changed. One rule at a time: a
 * second call before the undo throws rather than silently racing.
 */
export function setPolkitRule(user: string | readonly string[], result: 'YES' | 'NO' | 'AUTH_ADMIN', action: string = EXEC_ACTION): () => void {
  assertPrivateMountNamespace();
  if (!ownMount(RULES_DIR)) throw new Error(`${RULES_DIR} is the machine's: call startPolkit() first`);
  const names = [user].flat();
  const whos = names.map((name) => account(name));
  const befores = whos.map((who) => execDecision(who, action));
  const rule = `// Written by test/support/polkit.ts for one test; its undo removes it.
polkit.addRule(function (action, subject) {
  if (action.id === ${JSON.stringify(action)} && ${JSON.stringify(names)}.indexOf(subject.user) >= 0) {
    return polkit.Result.${result};
  }
});
`;
  writeFileSync(POLKIT_RULES_FILE, rule, { flag: 'wx', mode: 0o644 });
  whos.forEach((who, i) => awaitDecision(who, action, DECISION[result], `${POLKIT_RULES_FILE} (${result} for ${names[i]}, ${action})`));
  return () => {
    rmSync(POLKIT_RULES_FILE, { force: true });
    whos.forEach((who, i) => awaitDecision(who, action, befores[i]!, `the removal of ${POLKIT_RULES_FILE}`));
  };
}
