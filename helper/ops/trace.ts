import { closeSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { openDirectoryNoFollow } from '../../native';
import { ProtocolError } from '../../common/protocol';
import type { OperationHandler } from './types';

/** How often threads are sampled, and how much of each sample goes on the wire (frames cap at 64 KiB). */
const SAMPLE_MS = 250;
const MAX_THREADS_PER_FRAME = 32;
const MAX_STACK_FRAMES = 8;
const MAX_STACK_LINE = 80;

interface TracedProcess {
  pid: number;
  exe: string;
  /** /proc/PID opened once: reads through it fail if the pid dies, and never reach a reused pid. */
  dirFd: number;
  lastTicks: Map<number, number>;
  /** Set once the process stops being what we chose (exec, setuid, exit): never sampled again. */
  dropped: boolean;
}

const via = (p: TracedProcess, rest: string): string => `/proc/self/fd/${p.dirFd}/${rest}`;

/** True when every uid of the process (real, effective, saved, fs) is `uid`: a setuid program fails this. */
function runsAs(status: string, uid: number): boolean {
  const match = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
  return match !== null && match.slice(1).every((id) => Number(id) === uid);
}

/**
 * Still the process we chose? The /proc dir fd survives execve, so a Berth
 * process that execs a setuid program would otherwise go on being sampled.
 * Checked before every sample; a process that fails is dropped for good.
 */
function stillBerth(p: TracedProcess, uid: number): boolean {
  try {
    return readlinkSync(via(p, 'exe')) === p.exe && runsAs(readFileSync(via(p, 'status'), 'utf8'), uid);
  } catch {
    return false;
  }
}

/**
 * The caller's own Berth processes: real uid equal to the peer's (from the
 * kernel, not the request) and executable inside the installed app. The
 * request names no pid at all, so no other process can be pointed at.
 */
export function findBerthProcesses(uid: number, appPath: string): TracedProcess[] {
  const found: TracedProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let dirFd: number;
    try {
      dirFd = openDirectoryNoFollow(`/proc/${entry}`).fd;
    } catch {
      continue; // gone already
    }
    const process: TracedProcess = { pid: Number(entry), exe: '', dirFd, lastTicks: new Map(), dropped: false };
    try {
      const exe = readlinkSync(via(process, 'exe'));
      if (runsAs(readFileSync(via(process, 'status'), 'utf8'), uid) && exe.startsWith(`${appPath}/`)) {
        process.exe = exe;
        found.push(process);
        continue;
      }
    } catch {
      // Kernel threads and vanished processes have no readable exe.
    }
    closeSync(dirFd);
  }
  return found;
}

interface ThreadSample {
  pid: number;
  tid: number;
  name: string;
  cpuMs: number;
  stack?: string[];
}

/** Per-thread CPU since the last sample (utime+stime ticks, 100 Hz) and the kernel stack (root-only). */
function sample(p: TracedProcess, uid: number): ThreadSample[] {
  const threads: ThreadSample[] = [];
  if (p.dropped || !stillBerth(p, uid)) {
    p.dropped = true;
    return threads;
  }
  let tids: string[];
  try {
    tids = readdirSync(via(p, 'task'));
  } catch {
    return threads; // the process exited
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(via(p, `task/${tid}/stat`), 'utf8');
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      const before = p.lastTicks.get(Number(tid)) ?? ticks;
      p.lastTicks.set(Number(tid), ticks);
      let stack: string[] | undefined;
      try {
        stack = readFileSync(via(p, `task/${tid}/stack`), 'utf8')
          .split('\n')
          .filter((l) => l.length > 0)
          .slice(0, MAX_STACK_FRAMES)
          .map((l) => l.slice(0, MAX_STACK_LINE));
      } catch {
        stack = undefined; // some kernels and containers do not expose stacks
      }
      threads.push({ pid: p.pid, tid: Number(tid), name, cpuMs: (ticks - before) * 10, ...(stack ? { stack } : {}) });
    } catch {
      // The thread exited between readdir and read.
    }
  }
  return threads;
}

export const traceProcesses: OperationHandler<'traceProcesses'> = async (args, { peer, config, progress }) => {
  if (process.platform !== 'linux') {
    throw new ProtocolError('NOT_FOUND', 'the privileged trace is gathered on Linux only in this version');
  }
  if (config.appPath === undefined) {
    throw new ProtocolError('NOT_CONFIGURED', 'the install did not record where Berth is, so its processes cannot be told apart');
  }
  const processes = findBerthProcesses(peer.uid, config.appPath);
  if (processes.length === 0) {
    throw new ProtocolError('NOT_FOUND', `no Berth process of uid ${peer.uid} is running from ${config.appPath}`);
  }
  let samples = 0;
  try {
    for (const p of processes) sample(p, peer.uid); // baseline for the CPU deltas
    const rounds = Math.round((args.seconds * 1000) / SAMPLE_MS);
    for (let round = 1; round <= rounds; round++) {
      await sleep(SAMPLE_MS);
      const threads = processes.flatMap((p) => sample(p, peer.uid));
      samples++;
      progress({ t: (round * SAMPLE_MS) / 1000, threads: threads.slice(0, MAX_THREADS_PER_FRAME) });
    }
    return {
      result: {
        processes: processes.map((p) => ({ pid: p.pid, exe: p.exe, threads: p.lastTicks.size })),
        samples,
      },
    };
  } finally {
    for (const p of processes) closeSync(p.dirFd);
  }
};
