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
import {
  alias,
  checkTools,
  commandsUsed,
  cpuSeconds,
  download,
  freePort,
  iperf3,
  load,
  machine,
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

type Figure = 'iperf3' | 'download' | 'kaRps' | 'kaP99' | 'closeRps' | 'closeP99';
const FIGURES: Figure[] = ['iperf3', 'download', 'kaRps', 'kaP99', 'closeRps', 'closeP99'];
type CpuFigure = 'iperf3' | 'download' | 'ka' | 'close';

/** A process we started as a hop: stopped, and its children with it, on close(). */
function processHop(child: ReturnType<typeof start>, port: number): Hop {
  return {
    port,
    pids: () => (child.exitCode === null ? processTree(child.pid!) : []),
    close: () => stop(child),
  };
}


async function nodeForwarder(kind: 'berth' | 'naive', targetPort: number): Promise<Hop> {
  const port = await freePort();
  alias(port, `$${kind.toUpperCase()}_PORT`);
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
    { key: 'berth', label: "Berth's Forwarder", hop: (targetPort) => nodeForwarder('berth', targetPort) },
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

const median = (values: number[]): number => {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

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

class Results {
  readonly figures = new Map<string, Map<Figure, number[]>>();
  readonly cpu = new Map<string, Map<CpuFigure, number[]>>();
  readonly notes: string[] = [];

  add(path: string, figure: Figure, value: number): void {
    const byFigure = this.figures.get(path) ?? new Map<Figure, number[]>();
    this.figures.set(path, byFigure);
    byFigure.set(figure, [...(byFigure.get(figure) ?? []), value]);
  }

  addCpu(path: string, figure: CpuFigure, value: number): void {
    const byFigure = this.cpu.get(path) ?? new Map<CpuFigure, number[]>();
    this.cpu.set(path, byFigure);
    byFigure.set(figure, [...(byFigure.get(figure) ?? []), value]);
  }

  get(path: string, figure: Figure): number {
    return median(this.figures.get(path)?.get(figure) ?? []);
  }

  getCpu(path: string, figure: CpuFigure): number {
    return median(this.cpu.get(path)?.get(figure) ?? []);
  }

  all(path: string, figure: Figure): number[] {
    return this.figures.get(path)?.get(figure) ?? [];
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

interface IdleMemory {
  label: string;
  before: { rssKb: number; pssKb: number };
  with: { rssKb: number; pssKb: number };
  after: { rssKb: number; pssKb: number };
  processes: number;
  reached: number;
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

const fix = (n: number, digits: number): string => (Number.isNaN(n) ? '—' : n.toFixed(digits));
const int = (n: number): string => (Number.isNaN(n) ? '—' : Math.round(n).toLocaleString('en-US'));
const mib = (kb: number): string => (kb / 1024).toFixed(1);

function verdict(ok: boolean): string {
  return ok ? 'met' : '**not met**';
}

function targets(r: Results): string[] {
  const rows: string[] = [];
  const row = (target: string, measured: string, ok: boolean): void => void rows.push(`| ${target} | ${measured} | ${verdict(ok)} |`);
  const b = (f: Figure): number => r.get('berth', f);
  const s = (f: Figure): number => r.get('socat', f);
  if (r.figures.has('berth') && r.figures.has('socat')) {
    row('Forwarder throughput ≥ socat (iperf3)', `${fix(b('iperf3'), 2)} vs ${fix(s('iperf3'), 2)} GB/s`, b('iperf3') >= s('iperf3'));
    row('Forwarder throughput ≥ socat (HTTP download)', `${fix(b('download'), 2)} vs ${fix(s('download'), 2)} GB/s`, b('download') >= s('download'));
    row('Forwarder p99 ≤ socat (keep-alive)', `${fix(b('kaP99'), 2)} vs ${fix(s('kaP99'), 2)} ms`, b('kaP99') <= s('kaP99'));
    row('Forwarder p99 ≤ socat (`Connection: close`)', `${fix(b('closeP99'), 2)} vs ${fix(s('closeP99'), 2)} ms`, b('closeP99') <= s('closeP99'));
    row('Forwarder connection rate ≥ 1.5× socat (`Connection: close` req/s)', `${fix(b('closeRps') / s('closeRps'), 2)}× (${int(b('closeRps'))} vs ${int(s('closeRps'))})`, b('closeRps') >= 1.5 * s('closeRps'));
  }
  if (r.figures.has('run') && r.figures.has('direct')) {
    const ratio = (f: Figure, lowerIsBetter = false): number => (lowerIsBetter ? r.get('direct', f) / r.get('run', f) : r.get('run', f) / r.get('direct', f));
    const names: Array<[Figure, string, boolean]> = [
      ['download', 'HTTP download', false],
      ['kaRps', 'keep-alive req/s', false],
      ['kaP99', 'keep-alive p99 (direct ÷ berth run)', true],
      ['closeRps', '`Connection: close` req/s', false],
      ['closeP99', '`Connection: close` p99 (direct ÷ berth run)', true],
    ];
    for (const [f, name, lower] of names) row(`\`berth run\` ≥ 0.95× direct: ${name}`, `${fix(ratio(f, lower), 2)}×`, ratio(f, lower) >= 0.95);
  }
  return rows;
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
  if (all.length === 0) throw new Error('BENCH_PATHS names no path: direct, socat, naive, berth, run');
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
    for (const path of all.filter((p) => ['socat', 'naive', 'berth'].includes(p.key))) {
      idle.push(await idleMemory(path, nginxPort));
      console.error(`bench: idle memory, ${path.key}: done (load ${load()})`);
    }
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
    rmSync(dir, { recursive: true, force: true });
  }

  const out: string[] = [];
  const p = (line = ''): void => void out.push(line);
  p(`Run of ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC. Machine: ${machine()}.`);
  p(`Tools: ${[...versions.values()].join('; ')}.`);
  p(`BENCH_SECONDS=${SECONDS} per figure, ${ROUNDS} round(s): each cell is the median over the rounds.`);
  p(`Load average (1, 5, 15 min) before: ${loadBefore}, after: ${load()}; ${roundLoads.join('; ')}.`);
  p();
  p('| path | iperf3 GB/s | HTTP download GB/s | keep-alive req/s | keep-alive p99 ms | `Connection: close` req/s | `Connection: close` p99 ms |');
  p('| --- | --- | --- | --- | --- | --- | --- |');
  for (const path of all) {
    const g = (f: Figure): number => results.get(path.key, f);
    const iperfCell = path.key === 'run' ? 'n/a (iperf3 cannot take an inherited socket)' : fix(g('iperf3'), 2);
    p(`| ${path.label} | ${iperfCell} | ${fix(g('download'), 2)} | ${int(g('kaRps'))} | ${fix(g('kaP99'), 2)} | ${int(g('closeRps'))} | ${fix(g('closeP99'), 2)} |`);
  }
  p();
  p('CPU of the forwarding process(es) during each figure, % of one core (median over rounds; socat: the listener and its reaped forks):');
  p();
  p('| path | iperf3 | HTTP download | keep-alive | `Connection: close` |');
  p('| --- | --- | --- | --- | --- |');
  for (const path of all.filter((x) => ['socat', 'naive', 'berth'].includes(x.key))) {
    const c = (f: CpuFigure): string => fix(results.getCpu(path.key, f), 0);
    p(`| ${path.label} | ${c('iperf3')} | ${c('download')} | ${c('ka')} | ${c('close')} |`);
  }
  if (idle.length > 0) {
    p();
    p(`Memory of the forwarding process(es), idle, then with ${IDLE_CONNECTIONS.toLocaleString('en-US')} open idle connections through it to nginx, then after they closed (MiB):`);
    p();
    p('| path | processes | RSS idle | RSS with 1,000 | RSS after close | PSS idle | PSS with 1,000 | per connection (PSS) |');
    p('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const m of idle) {
      const reached = m.reached < IDLE_CONNECTIONS ? ` (only ${m.reached} reached the target)` : '';
      const perConnection = ((m.with.pssKb - m.before.pssKb) / IDLE_CONNECTIONS).toFixed(1);
      p(`| ${m.label}${reached} | ${m.processes} | ${mib(m.before.rssKb)} | ${mib(m.with.rssKb)} | ${mib(m.after.rssKb)} | ${mib(m.before.pssKb)} | ${mib(m.with.pssKb)} | ${perConnection} KiB |`);
    }
    p();
    p('RSS counts every shared page once per process (so 1,000 socat forks count libc 1,000 times); PSS divides shared pages among their users.');
  }
  const targetRows = targets(results);
  if (targetRows.length > 0) {
    p();
    p('| target (issue 5) | measured (medians) | |');
    p('| --- | --- | --- |');
    for (const r of targetRows) p(r);
  }
  if (ROUNDS > 1) {
    p();
    p('Each round (in round order):');
    p();
    p('| path | iperf3 GB/s | download GB/s | keep-alive req/s | keep-alive p99 ms | close req/s | close p99 ms |');
    p('| --- | --- | --- | --- | --- | --- | --- |');
    for (const path of all) {
      const cells = FIGURES.map((f) => results.all(path.key, f).map((v) => (f.endsWith('Rps') ? int(v) : fix(v, 2))).join(' / ') || '—');
      p(`| ${path.key} | ${cells.join(' | ')} |`);
    }
  }
  if (results.notes.length > 0) {
    p();
    p('wrk reported errors:');
    for (const n of results.notes) p(`- ${n}`);
  }
  p();
  p('Commands (ports as used in this run):');
  p();
  p('```sh');
  for (const c of commandsUsed) p(c);
  p('```');
  console.log(out.join('\n'));
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
