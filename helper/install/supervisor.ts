import { STANDALONE_FD_NAME } from '../daemon/activation';

/**
 * Standalone mode's supervisor: what brings the helper back after kill -9, a
 * crash or the OOM killer where no service manager runs.
 *
 * Why /bin/sh and not Node: it stays resident for as long as the helper is
 * installed, and a shell waiting on its child costs about 1 MB of memory
 * where a Node supervisor costs about 40 MB. Its whole job is a loop, so
 * nothing is lost by writing it in sh.
 *
 * Why it holds the listening socket (the installer binds it and passes it as
 * fd 3, systemd's LISTEN_FDS protocol): a helper crash never drops the
 * listener. A client that connects while the helper restarts waits in the
 * socket's backlog and is served by the next helper instead of being told
 * "not running"; the socket file keeps its identity, so the app has no reason
 * to look again; and the helper serves exactly as it does under systemd.
 * What sh cannot do is wait for a connection, so it cannot start the helper
 * on demand: the fd is named STANDALONE_FD_NAME, and the helper does not
 * exit when idle under it (helper/daemon/activation.ts).
 *
 * Clean stop or crash, by the helper's exit status: 0 is a stop someone
 * asked for (SIGTERM from stopStandalone or an admin, the uninstall
 * operation), and the supervisor ends too, removing the socket file. Anything
 * else (killed by a signal, a crash, a failed start) starts the helper again
 * after a back-off: at once, then 1, 2, 4 ... 60 s between attempts, back to
 * "at once" after a run of 60 s, so a helper that cannot start costs a line
 * in helper.log a minute, not a busy loop.
 *
 * Its own SIGTERM, SIGINT or SIGHUP is forwarded to the helper, then it
 * waits for it and ends. Started in a session of its own (setsid), so the
 * supervisor and its helper form one process group that stopStandalone can
 * find and stop even when one of them was killed alone.
 *
 * The script is fixed text; the socket path and the helper's argv reach it
 * as positional parameters, never spliced into it. The helper's environment
 * is the installer's clean one plus the three LISTEN_ variables (sh's own PWD
 * is unset again).
 */
const SCRIPT = `
sock=$1; shift
child=; stopping=; delay=0
trap 'stopping=1; [ -z "$child" ] || kill -TERM "$child" 2>/dev/null' TERM INT HUP
while [ -z "$stopping" ]; do
  started=$(date +%s 3>&-)
  LISTEN_FDS=1 LISTEN_FDNAMES=${STANDALONE_FD_NAME} /bin/sh -c 'unset PWD; export LISTEN_PID=$$; exec "$@"' berth-helper "$@" &
  child=$!
  wait "$child"; status=$?
  # wait returns early (above 128) when a trapped signal arrives: wait again for the helper's own status.
  while [ "$status" -gt 128 ] && kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done
  child=
  [ -n "$stopping" ] || [ "$status" -eq 0 ] && break
  ran=$(( $(date +%s 3>&-) - started ))
  [ "$ran" -lt 60 ] || delay=0
  echo "berth-helper supervisor: the helper ended with status $status after $ran s; starting it again in $delay s" >&2
  if [ "$delay" -gt 0 ]; then sleep "$delay" 3>&- & child=$!; wait "$child"; kill "$child" 2>/dev/null; child=; fi
  if [ "$delay" -eq 0 ]; then delay=1; elif [ "$delay" -lt 32 ]; then delay=$((delay * 2)); else delay=60; fi
done
# Ours: the installer made it for this supervisor, in a directory only root can write.
[ -S "$sock" ] && rm -f "$sock"
echo "berth-helper supervisor: stopped" >&2
`;

/** argv[0] of the shell, as ps shows it. */
export const SUPERVISOR_NAME = 'berth-helper-supervisor';

/** The supervisor's argv (for /bin/sh), given the socket it holds as fd 3 and the helper's argv. */
export function supervisorArgs(socketPath: string, helperCommand: readonly string[]): string[] {
  return ['-c', SCRIPT, SUPERVISOR_NAME, socketPath, ...helperCommand];
}
