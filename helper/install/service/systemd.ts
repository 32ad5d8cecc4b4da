import { REMOVAL_EXIT_STATUS } from '../../daemon/removal-request';
import { validateServiceSpec, type ServiceSpec } from './spec';

const HEADER = '# Written by the Berth installer; reinstalling or uninstalling the helper replaces or removes it.';

/**
 * One ExecStart= word: always double-quoted (so a path with spaces stays one
 * argument and a leading '-', '@', '+' or '!' is never read as a prefix), with
 * '\' and '"' backslash-escaped as systemd's C-style unquoting expects.
 * '%' and '$' would need their own escapes ('%%', '$$') at different stages;
 * refusing them here, as the spec does, keeps the word exactly what we mean.
 */
export function quoteExecArgument(arg: string): string {
  if (/[\p{Cc}%$]/u.test(arg)) {
    throw new Error('an ExecStart argument may not hold control characters, "%" or "$"');
  }
  return `"${arg.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The helper's argv with its `serve` command swapped for `finish-removal` (same program, same config). */
function finishRemoval(helperCommand: readonly string[]): string[] {
  const at = helperCommand.indexOf('serve');
  if (at < 0) return [];
  const argv = [...helperCommand.slice(0, at), 'finish-removal', ...helperCommand.slice(at + 1)];
  return [`ExecStopPost=+${argv.map(quoteExecArgument).join(' ')}`];
}

function unit(sections: Array<[name: string, lines: string[]]>): string {
  return `${HEADER}\n${sections.map(([name, lines]) => [`[${name}]`, ...lines].join('\n')).join('\n\n')}\n`;
}

/**
 * <label>.socket: systemd (PID 1) binds the socket and starts <label>.service
 * on the first connection, handing over the listening fd (LISTEN_FDS).
 */
export function systemdSocketUnit(input: ServiceSpec): string {
  const spec = validateServiceSpec(input);
  return unit([
    ['Unit', ['Description=Berth privileged helper socket']],
    [
      'Socket',
      [
        `ListenStream=${spec.socketPath}`,
        // Root's and connectable by every local user, like the D-Bus system
        // bus: the helper checks each peer's credentials before it reads a
        // byte and serves only root and the enrolled uids. One socket for all
        // enrolled users, so enrolling never touches this unit, and no group
        // membership (which would need a new login) is involved.
        '# Anyone may connect; the helper serves only root and the enrolled users (its peer-credential check).',
        'SocketUser=root',
        'SocketGroup=root',
        'SocketMode=0666',
        // The directory is root's and not writable by others: the helper and
        // the client refuse a socket in a directory someone else could swap it in.
        'DirectoryMode=0755',
        // One helper process takes the listening socket and accepts itself.
        'Accept=no',
        'RemoveOnStop=yes',
      ],
    ],
    ['Install', ['WantedBy=sockets.target']],
  ]);
}

/**
 * Capabilities the helper keeps; root loses every other one. Not here, on purpose:
 * - CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH: every file and directory it
 *   writes is root-owned and owner-writable (the helper refuses any other), and
 *   the /proc files it reads are world-readable or gated by ptrace checks, not DAC.
 * - CAP_SYS_ADMIN: /proc/PID/task/TID/stack demands it (kernel >= 4.20 checks
 *   CAP_SYS_ADMIN on the opener; checked on 6.18: EACCES without it), but it
 *   would also let the helper unmount its own sandbox. So under systemd the
 *   privileged trace carries thread names and CPU but no kernel stacks; trace.ts
 *   already treats an unreadable stack as "not exposed".
 */
export const HELPER_CAPABILITIES = [
  // bindPort: ports below 1024.
  'CAP_NET_BIND_SERVICE',
  // ensureHosts keeps the hosts file's owner and group (e.g. root:somegroup 0640):
  // fchown to a group root is not a member of needs CAP_CHOWN...
  'CAP_CHOWN',
  // ...and the fchmod after it, when that owner is not root, needs CAP_FOWNER.
  'CAP_FOWNER',
  // traceProcesses: readlink /proc/PID/exe of another uid's process is a
  // ptrace-read check (fails without it; checked on 6.18), as is the kernel
  // stack. Without it no Berth process is found at all. It could also attach
  // to processes outside the sandbox; so could a writable /etc persist code.
  // The sandbox contains path bugs, not a fully compromised helper. It can go
  // once trace matches processes under the user's own fsuid instead.
  'CAP_SYS_PTRACE',
] as const;

/**
 * Paths the sandbox leaves writable (ProtectSystem=strict makes all else
 * read-only). /etc whole, not /etc/hosts: the hosts file is replaced by a
 * temp file created in /etc and renamed over it, and a bind-mounted single
 * file can be neither created beside nor renamed over. The cost: the helper
 * can write anywhere in /etc (sudoers, unit files), so this is no wall
 * against a compromised helper; it still keeps /usr (but the link
 * directory), /boot and /efi read-only, which catches the likelier failure, a
 * path bug. '-': a machine without /usr/local/bin still starts the helper;
 * only linking fails.
 */
export const WRITABLE_PATHS = ['/etc', '-/usr/local/bin'] as const;

/**
 * <label>.service, started only through <label>.socket (hence no [Install]).
 * Root, but sandboxed to what the closed set of operations needs.
 */
export function systemdServiceUnit(input: ServiceSpec): string {
  const spec = validateServiceSpec(input);
  const socket = `${spec.label}.socket`;
  const writable = [...WRITABLE_PATHS, ...(spec.installDir === undefined ? [] : [spec.installDir])];
  return unit([
    ['Unit', ['Description=Berth privileged helper', `Requires=${socket}`, `After=${socket}`]],
    [
      'Service',
      [
        'Type=simple',
        `ExecStart=${spec.helperCommand.map(quoteExecArgument).join(' ')}`,
        // After every stop, with full privileges ('+': none of the sandbox below): when the helper
        // exited to be removed (its app is gone, or someone asked for uninstall), this removes what
        // the sandbox keeps it from removing (its units, its folders); after any other exit it does nothing.
        ...finishRemoval(spec.helperCommand),
        // That exit is a request, not a failure: a "failed" unit would outlive its own removal.
        `SuccessExitStatus=${REMOVAL_EXIT_STATUS}`,
        // V8 without its JIT (the helper does I/O, not compute): no code is
        // written at run time, so MemoryDenyWriteExecute=yes below holds. A
        // Node single executable honours NODE_OPTIONS too (checked on 20.20).
        // Fixed here, in root's file; no other environment reaches the service.
        'Environment=NODE_OPTIONS=--jitless',
        // Files it creates get their modes explicitly (fchmod: 0644 for what the
        // app reads); anything created without one stays root's alone.
        'UMask=0077',
        'NoNewPrivileges=yes',
        `CapabilityBoundingSet=${HELPER_CAPABILITIES.join(' ')}`,
        'AmbientCapabilities=',
        'ProtectSystem=strict',
        `ReadWritePaths=${writable.join(' ')}`,
        // /var/lib/berth (policy cache, install record) and /var/log/berth
        // (audit log): systemd creates them root-owned 0755 before each start
        // and leaves them writable, so a deleted one cannot stop the helper
        // from starting as a missing ReadWritePaths= entry would.
        'StateDirectory=berth',
        'LogsDirectory=berth',
        // Link targets are computed strings, never read; the app in a home
        // directory is still found by /proc/PID/exe, which needs no access to /home.
        'ProtectHome=yes',
        'PrivateTmp=yes',
        // Nothing it mounts reaches the host (it cannot mount without CAP_SYS_ADMIN anyway).
        'PrivateMounts=yes',
        'PrivateDevices=yes',
        // Covers /proc/sys, /sys and a few global /proc files; per-process
        // /proc/PID entries, which traceProcesses reads, are untouched.
        'ProtectKernelTunables=yes',
        'ProtectKernelModules=yes',
        'ProtectKernelLogs=yes',
        'ProtectControlGroups=yes',
        'ProtectClock=yes',
        'ProtectHostname=yes',
        // hidepid=invisible: /proc shows only processes the helper may
        // ptrace-read. With CAP_SYS_PTRACE that is all of them, so the trace
        // still finds the user's; it narrows /proc the day that capability goes.
        'ProtectProc=invisible',
        // /proc/PID and /proc/self only (no /proc/sys, /proc/kcore, ...): all the trace reads, and all Node needs.
        'ProcSubset=pid',
        // The ports it binds. Not AF_UNIX: systemd hands over the listening
        // socket and accept()/sendmsg() on it create none; without it the
        // helper cannot reach systemd's or D-Bus's sockets either. No
        // IPAddressDeny=: cgroup firewalls follow a socket to whoever receives the fd.
        'RestrictAddressFamilies=AF_INET AF_INET6',
        // It uses no System V IPC or POSIX message queues.
        'PrivateIPC=yes',
        'RestrictNamespaces=yes',
        'RestrictRealtime=yes',
        'RestrictSUIDSGID=yes',
        'LockPersonality=yes',
        // No writable-and-executable memory: V8 runs --jitless (NODE_OPTIONS above).
        'MemoryDenyWriteExecute=yes',
        'SystemCallArchitectures=native',
        // What ordinary services need, less the privileged calls (setuid,
        // chroot, mount, swap, reboot...) and the resource ones (setrlimit,
        // sched_setaffinity, setpriority...): the helper makes none of them...
        'SystemCallFilter=@system-service',
        'SystemCallFilter=~@privileged @resources',
        // ...but fchown: bindPort gives the bound socket to the caller, ensureHosts keeps the hosts file's owner.
        'SystemCallFilter=@chown',
        // ...and V8's memory protection keys (pkey_alloc at start-up: without it the helper dies at once).
        'SystemCallFilter=@pkey',
        // A call outside the list fails with EPERM, so a rarely taken path
        // fails that one request with an error, not the helper and every
        // connection with it; the call is refused either way.
        'SystemCallErrorNumber=EPERM',
      ],
    ],
  ]);
}
