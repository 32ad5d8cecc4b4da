// Port forwarding on loopback, side by side in one run: a direct connection
// to the target, socat (`TCP-LISTEN,fork`, backlog 511), a naive Node pipe()
// forwarder (glibc's default heap trimming), Berth's Forwarder (which raises
// it: main/core/ports/forwarder.ts), each forwarder in a process of its own,
// and `berth run` (nginx serving the socket Berth bound and handed over as fd 3).
// Figures: single-stream throughput (iperf3), bulk HTTP download over one
// connection (curl, a 128 MiB file from nginx), HTTP requests/s and p99 with
// keep-alive and with `Connection: close` (wrk -t1 -c50 against nginx), the
// forwarding process's CPU, and its memory with 1,000 idle connections.
// `npm run bench:forwarder`; BENCH_SECONDS (default 5) per figure,
// BENCH_ROUNDS (default 3; the table shows each figure's median over rounds,
// paths in a rotated order each round), BENCH_PATHS (e.g. "socat,berth"),
// BENCH_CPU_PROF=DIR (--cpu-prof of Berth's forwarder processes into DIR).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync, openSync, ftruncateSync, closeSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { serveProxy } from './forwarder-proxy';
import { report, Results, type IdleMemory } from './forwarder-report';
import {
  alias,
  checkTools,
  cpuSeconds,
  download,
  freePort,
  iperf3,
  load,
  memory,
  nginxConf,
  openSockets,
  processTree,
  start,
  stop,
  waitForHttp,
  waitForPort,
  wrk,
} from './forwarder-tools';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const IDLE_CONNECTIONS = 1000;
const BIG_FILE_MIB = 128;
const BERTH_CLI = join(__dirname, '../cli/berth.js');

/** One hop between the client and the target: where clients connect, and which processes do the forwarding. */
interface Hop {
  port: number;
  /** The processes that carry the traffic (empty for direct): their CPU and memory are this hop's. */
  pids(): number[];
  close(): Promise<void>;
  /** Measured no sooner than this (ms since the epoch); see settle(). */
  notBefore?: number;
}

interface Path {
  key: string;
  label: string;
  /** A hop to `targetPort`; undefined when this path cannot carry that target (iperf3 through `berth run`). */
  hop(targetPort: number, target: 'nginx' | 'iperf3'): Promise<Hop | undefined>;
}

/** A process we started as a hop: stopped, and its children with it, on close(). */
function processHop(child: ReturnType<typeof start>, port: number): Hop {
  return {
    port,
    pids: () => (child.exitCode === null ? processTree(child.pid!) : []),
    close: () => stop(child),
  };
}


async function nodeForwarder(kind: 'berth' | 'berth-js' | 'naive', targetPort: number): Promise<Hop> {
  const port = await freePort();
  alias(port, `$${kind.toUpperCase().replace('-', '_')}_PORT`);
  const prof = kind === 'berth' && process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = start([process.execPath, ...prof, __filename, 'serve', kind, String(port), String(targetPort)]);
  await waitForPort(port, child);
  return processHop(child, port);
}

function paths(dir: string): Path[] {
  return [
    {
      key: 'direct',
      label: 'direct (client → target)',
      hop: async (targetPort, target) => {
        if (target === 'iperf3') return { port: targetPort, pids: () => [], close: async () => undefined };
        // A fresh nginx binding its own port, started and stopped like the `berth run` row's, so that
        // the two differ only in who bound the socket (and `berth run`'s own process, idle once started).
        const port = await freePort();
        alias(port, '$DIRECT_PORT');
        writeFileSync(join(dir, 'direct.conf'), nginxConf(dir, 'direct', port));
        const child = start(['nginx', '-e', join(dir, 'direct-error.log'), '-c', join(dir, 'direct.conf'), '-g', 'daemon off;']);
        await waitForHttp(`http://127.0.0.1:${port}/`, child);
        return processHop(child, port);
      },
    },
    {
      key: 'socat',
      label: 'socat `TCP-LISTEN,fork`',
      hop: async (targetPort) => {
        const port = await freePort();
        alias(port, '$SOCAT_PORT');
        // backlog=511 as Berth and nginx use: socat's default of 5 drops the SYNs of wrk's 50 connections
        // (seen: 1 s retransmits, p99 over 1 s), which would measure the backlog, not the forwarding.
        const child = start(['socat', `TCP-LISTEN:${port},fork,reuseaddr,bind=127.0.0.1,backlog=511`, `TCP:127.0.0.1:${targetPort}`]);
        await waitForPort(port, child);
        return processHop(child, port);
      },
    },
    { key: 'naive', label: 'naive Node `pipe()` forwarder', hop: (targetPort) => nodeForwarder('naive', targetPort) },
    { key: 'berth', label: "Berth's Forwarder (native data plane)", hop: (targetPort) => nodeForwarder('berth', targetPort) },
    { key: 'berth-js', label: "Berth's Forwarder, JS data plane (the fallback)", hop: (targetPort) => nodeForwarder('berth-js', targetPort) },
    {
      key: 'run',
      label: '`berth run` (nginx on the fd Berth bound)',
      hop: async (_targetPort, target) => {
        if (target !== 'nginx') return undefined; // iperf3 cannot serve an inherited socket.
        // The direct row's nginx, but Berth binds its port and hands it over as fd 3;
        // NGINX="3;" is how nginx takes an inherited listening socket (it has no LISTEN_FDS support).
        const port = await freePort();
        alias(port, '$RUN_PORT');
        writeFileSync(join(dir, 'run.conf'), nginxConf(dir, 'run', port));
        const startedAt = Date.now();
        const child = start(
          [process.execPath, BERTH_CLI, 'run', '-p', `127.0.0.1:${port}`, '--', 'nginx', '-e', join(dir, 'run-error.log'), '-c', join(dir, 'run.conf'), '-g', 'daemon off;'],
          { NGINX: '3;' },
        );
        await waitForHttp(`http://127.0.0.1:${port}/`, child);
        // berth's own Node process stays as CMD's parent (signals, exit status) and is idle but for one
        // garbage collection ~8 s after it started (V8's memory reducer, seen with --trace-gc: 50-90 ms
        // of CPU). Measured from 10 s on: the steady state of a `berth run` that serves for a while.
        return { ...processHop(child, port), notBefore: startedAt + 10_000 };
      },
    },
  ];
}

/**
 * Waits until the hop's `notBefore`, then until its processes have used no CPU for 0.5 s (at most
 * 10 s). On 2 cores a process still starting steals from the measurement: `berth run`'s own Node
 * process finishing its start-up cost that row 0.1-2 ms of keep-alive p99 in 6 of 6 fresh pairs,
 * and nothing once it had settled. Every row waits the same way.
 */
async function settle(hop: Hop): Promise<void> {
  if (hop.notBefore !== undefined) await sleep(Math.max(0, hop.notBefore - Date.now()));
  const cpu = (): number => hop.pids().reduce((sum, pid) => sum + safeCpu(pid), 0);
  for (let i = 0; i < 20; i++) {
    const before = cpu();
    await sleep(500);
    if (cpu() - before < 0.005) return;
  }
}

/** Runs `measure` while counting the hop's CPU; returns its result and the CPU as % of one core. */
async function withCpu<T>(hop: Hop, measure: () => Promise<T>): Promise<[T, number]> {
  const pids = hop.pids();
  const cpu = (): number => pids.reduce((sum, pid) => sum + safeCpu(pid), 0);
  const before = cpu();
  const t0 = process.hrtime.bigint();
  const result = await measure();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  return [result, pids.length === 0 ? NaN : ((cpu() - before) / wall) * 100];
}

const cpuNote = (cpu: number): string => (Number.isNaN(cpu) ? '' : `, CPU ${cpu.toFixed(0)}%`);

function safeCpu(pid: number): number {
  try {
    return cpuSeconds(pid);
  } catch {
    return 0;
  }
}

async function measurePath(path: Path, ports: { nginx: number; iperf3: number }, results: Results, round: number): Promise<void> {
  const log = (what: string): void => console.error(`bench: round ${round}, ${path.key}: ${what} (load ${load()})`);
  const iperfHop = await path.hop(ports.iperf3, 'iperf3');
  if (iperfHop) {
    try {
      await settle(iperfHop);
      const [gbs, cpu] = await withCpu(iperfHop, () => iperf3(iperfHop.port, SECONDS));
      results.add(path.key, 'iperf3', gbs);
      results.addCpu(path.key, 'iperf3', cpu);
      log(`iperf3 ${gbs.toFixed(2)} GB/s${cpuNote(cpu)}`);
    } finally {
      await iperfHop.close();
    }
  }
  const hop = (await path.hop(ports.nginx, 'nginx'))!;
  try {
    await settle(hop);
    const base = `http://127.0.0.1:${hop.port}`;
    const [gbs, dlCpu] = await withCpu(hop, () => download(`${base}/big.bin`, SECONDS));
    results.add(path.key, 'download', gbs);
    results.addCpu(path.key, 'download', dlCpu);
    log(`download ${gbs.toFixed(2)} GB/s${cpuNote(dlCpu)}`);
    for (const close of [false, true]) {
      const [r, cpu] = await withCpu(hop, () => wrk(`${base}/`, SECONDS, close));
      results.add(path.key, close ? 'closeRps' : 'kaRps', r.rps);
      results.add(path.key, close ? 'closeP99' : 'kaP99', r.p99Ms);
      results.addCpu(path.key, close ? 'close' : 'ka', cpu);
      if (r.errors) results.notes.push(`round ${round}, ${path.label}, ${close ? '`Connection: close`' : 'keep-alive'}: ${r.errors}`);
      log(`${close ? 'close' : 'keep-alive'} ${Math.round(r.rps)} req/s, p99 ${r.p99Ms.toFixed(2)} ms${cpuNote(cpu)}${r.errors ? `, ${r.errors}` : ''}`);
    }
  } finally {
    await hop.close();
  }
}

/** The hop's memory idle, with IDLE_CONNECTIONS open idle connections through it to nginx, and once they are closed. */
async function idleMemory(path: Path, nginxPort: number): Promise<IdleMemory> {
  const hop = (await path.hop(nginxPort, 'nginx'))!;
  try {
    await settle(hop);
    const baseSockets = openSockets(hop.pids());
    const before = memory(hop.pids());
    const clients: net.Socket[] = [];
    for (let i = 0; i < IDLE_CONNECTIONS; i += 100) {
      const batch = await Promise.all(
        Array.from(
          { length: Math.min(100, IDLE_CONNECTIONS - i) },
          () =>
            new Promise<net.Socket>((resolve, reject) => {
              const s = net.connect(hop.port, '127.0.0.1', () => resolve(s));
              s.once('error', reject);
            }),
        ),
      );
      clients.push(...batch);
    }
    // Each connection is two sockets in the forwarder (client side and target side) once the target accepted.
    let reached = 0;
    for (let i = 0; i < 300 && reached < 2 * IDLE_CONNECTIONS; i++) {
      reached = openSockets(hop.pids()) - baseSockets;
      if (reached < 2 * IDLE_CONNECTIONS) await sleep(100);
    }
    await sleep(1000);
    const pids = hop.pids();
    const withConnections = memory(pids);
    for (const s of clients) s.destroy();
    for (let i = 0; i < 100 && openSockets(hop.pids()) > baseSockets; i++) await sleep(100);
    await sleep(1000);
    return { label: path.label, before, with: withConnections, after: memory(hop.pids()), processes: pids.length, reached: Math.floor(reached / 2) };
  } finally {
    await hop.close();
  }
}

async function main(): Promise<void> {
  if (process.platform !== 'linux') throw new Error('this benchmark reads /proc: run it on Linux');
  if (!Number.isFinite(SECONDS) || SECONDS < 1 || !Number.isInteger(ROUNDS) || ROUNDS < 1) {
    throw new Error('BENCH_SECONDS must be a number ≥ 1 and BENCH_ROUNDS a whole number ≥ 1');
  }
  const versions = checkTools();
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-fwd-'));
  alias(dir, '$DIR');
  alias(__filename, 'dist/bench/forwarder.js');
  alias(BERTH_CLI, 'dist/cli/berth.js');
  alias(process.execPath, 'node');
  chmodSync(dir, 0o755); // nginx's workers run as nobody when we are root: they must read www/.
  mkdirSync(join(dir, 'www'));
  mkdirSync(join(dir, 'tmp'));
  const big = openSync(join(dir, 'www/big.bin'), 'w');
  ftruncateSync(big, BIG_FILE_MIB * 1024 * 1024); // zeros, in the page cache: the disk is not what is measured
  closeSync(big);

  const cleanups: Array<() => Promise<void>> = [];
  const startedAt = new Date();
  const loadBefore = load();
  const results = new Results();
  const roundLoads: string[] = [];
  let idle: IdleMemory[] = [];
  const selected = process.env.BENCH_PATHS?.split(',').map((p) => p.trim());
  const all = paths(dir).filter((p) => !selected || selected.includes(p.key));
  if (all.length === 0) throw new Error('BENCH_PATHS names no path: direct, socat, naive, berth, berth-js, run');
  try {
    const nginxPort = await freePort();
    alias(nginxPort, '$NGINX_PORT');
    // The target of every forwarder, up for the whole run.
    writeFileSync(join(dir, 'target.conf'), nginxConf(dir, 'target', nginxPort));
    const nginx = start(['nginx', '-e', join(dir, 'target-error.log'), '-c', join(dir, 'target.conf'), '-g', 'daemon off;']);
    cleanups.push(() => stop(nginx));
    await waitForHttp(`http://127.0.0.1:${nginxPort}/`, nginx);
    const iperfPort = await freePort();
    alias(iperfPort, '$IPERF3_PORT');
    const iperf = start(['iperf3', '-s', '-B', '127.0.0.1', '-p', String(iperfPort)]);
    cleanups.push(() => stop(iperf));
    // iperf3's control connection would take a bare probe for a client: wait for its banner instead.
    for (let i = 0; i < 100 && !iperf.output().includes('listening'); i++) await sleep(50);
    await sleep(200);

    for (let round = 1; round <= ROUNDS; round++) {
      const loadAtStart = load();
      const order = all.map((_, i) => all[(i + round - 1) % all.length]!);
      for (const path of order) await measurePath(path, { nginx: nginxPort, iperf3: iperfPort }, results, round);
      roundLoads.push(`round ${round}: ${loadAtStart} → ${load()} (order: ${order.map((p) => p.key).join(', ')})`);
    }
    idle = [];
    for (const path of all.filter((p) => ['socat', 'naive', 'berth', 'berth-js'].includes(p.key))) {
      idle.push(await idleMemory(path, nginxPort));
      console.error(`bench: idle memory, ${path.key}: done (load ${load()})`);
    }
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
    rmSync(dir, { recursive: true, force: true });
  }

  console.log(
    report({ startedAt, versions: [...versions.values()], seconds: SECONDS, rounds: ROUNDS, loadBefore, roundLoads, paths: all, results, idle, idleConnections: IDLE_CONNECTIONS }),
  );
}

if (process.argv[2] === 'serve') {
  serveProxy(process.argv.slice(3)).catch((error: unknown) => {
    console.error(`bench forwarder: ${(error as Error).message}`);
    process.exit(1);
  });
} else {
  main().catch((error: unknown) => {
    console.error(`bench: ${(error as Error).message}`);
    process.exitCode = 1;
  });
}
