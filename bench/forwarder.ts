// Port forwarding on loopback through the real path, side by side with the
// peers in one run: a direct connection to the target; socat
// (`TCP-LISTEN,fork`, backlog 511); HAProxy (the reference user-space TCP
// proxy: one thread, splice where it pays, as the native plane); `berth ports add` on the running
// `berth app` (browser mode, as the unprivileged user berth-test), on a port
// it binds itself and on privileged ports the real root helper binds; and
// `berth run -p` (nginx serving the socket the helper bound, handed over as
// fd 3). Figures: single-stream throughput (iperf3), bulk HTTP download
// (curl, a 128 MiB file from nginx), HTTP req/s and p99 with keep-alive and
// with `Connection: close` (wrk -t1 -c50), a DNS-style UDP load when the
// build has UDP mappings, the forwarding process's CPU, and the app's own
// event-loop delay (BERTH_LOOP_DELAY=1, read through `app.metrics`) during
// each; then the app's memory through a 10 GB burst and with 1,000 idle
// connections. Every path is set up once; each round measures one load at a
// time on every path, in an order rotated by one each round. Options: see USAGE. Run as root: `npm run bench:forwarder`
// (it runs in private network and mount namespaces).
import { chownSync, closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { options, type Options } from './forwarder-options';
import { startBerthSystem, type BerthApp, type BerthSystem } from './berth-system';
import { burst, idleConnections, type Burst, type IdleMemory } from './forwarder-memory';
import { report, Results, type BenchPath, type RunSummary } from './forwarder-report';
import { alias, checkTools, haproxyConf, cpuSeconds, download, iperf3, killStarted, load, machine, processTree, run, start, stop, waitForHttp, waitForPort, which, wrk, nginxConf, freePort } from './forwarder-tools';

const BIG_FILE_MIB = 128;
/** Privileged ports of the :80 rows (per plane: +1) and of `berth run`; free in the private network namespace. */
const LOW = { nginx: 80, iperf3: 180, udp: 53, run: 443 };

/** Everything one row needs: where its clients connect, and who forwards (for CPU and the loop delay). */
interface Row extends BenchPath {
  ports: { nginx?: number; iperf3?: number; udp?: number };
  pids(): number[];
  app?: BerthApp;
  notBefore?: number;
}

const planeLabel = (plane: string | undefined): string => (plane === undefined ? '' : ` [BERTH_DATA_PLANE=${plane}]`);

/** Waits for `notBefore`, then until the row's processes used no CPU for 0.5 s (at most 10 s): on 2 cores a busy neighbour steals from the figure. */
async function settle(row: Row): Promise<void> {
  if (row.notBefore !== undefined) await sleep(Math.max(0, row.notBefore - Date.now()));
  const cpu = (): number => row.pids().reduce((sum, pid) => sum + safeCpu(pid), 0);
  for (let i = 0; i < 20; i++) {
    const before = cpu();
    await sleep(500);
    if (cpu() - before < 0.005) return;
  }
}

function safeCpu(pid: number): number {
  try {
    return cpuSeconds(pid);
  } catch {
    return 0;
  }
}

/** Runs `measure` while counting the row's CPU (% of one core) and, for an app, its event-loop delay p99 (ms). */
async function measured<T>(row: Row, measure: () => Promise<T>): Promise<{ result: T; cpu: number; loopP99: number }> {
  await settle(row);
  const pids = row.pids();
  const cpu = (): number => pids.reduce((sum, pid) => sum + safeCpu(pid), 0);
  if (row.app) await row.app.metrics(true);
  const before = cpu();
  const t0 = process.hrtime.bigint();
  const result = await measure();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const used = pids.length === 0 ? NaN : ((cpu() - before) / wall) * 100;
  const loopP99 = row.app ? ((await row.app.metrics()).loopDelay?.p99Ms ?? NaN) : NaN;
  return { result, cpu: used, loopP99 };
}

/** The loads, measured one at a time across every row: a figure's rows are measured back to back. */
const LOADS = ['iperf3', 'download', 'keep-alive', 'close', 'udp'] as const;
type Load = (typeof LOADS)[number];

/**
 * One load on one row. Each round measures a load on every row (in the round's rotated order) before
 * the next load, so that a row and the direct connection it is divided by are minutes apart at most
 * once per run, not once per figure: on 2 shared cores the machine's speed drifts between minutes.
 */
async function measureLoad(row: Row, what: Load, o: Options, results: Results, round: number, udpLoad: string): Promise<void> {
  const log = (what: string): void => console.error(`bench: round ${round}, ${row.key}: ${what} (load ${load()})`);
  const note = (cpu: number, loop: number): string => `${Number.isNaN(cpu) ? '' : `, CPU ${cpu.toFixed(0)}%`}${Number.isNaN(loop) ? '' : `, loop p99 ${loop.toFixed(1)} ms`}`;
  const keep = (figure: Parameters<Results['add']>[1], value: number, cpu: number, loop: number): void => {
    results.add(row.key, figure, value);
    results.addCpu(row.key, figure, cpu);
    results.addLoop(row.key, figure, loop);
  };
  if (what === 'iperf3' && row.ports.iperf3 !== undefined) {
    const port = row.ports.iperf3;
    const m = await measured(row, () => iperf3(port, o.seconds));
    keep('iperf3', m.result, m.cpu, m.loopP99);
    log(`iperf3 ${m.result.toFixed(2)} GB/s${note(m.cpu, m.loopP99)}`);
  }
  const base = `http://127.0.0.1:${row.ports.nginx}`;
  if (what === 'download' && row.ports.nginx !== undefined) {
    const dl = await measured(row, () => download(`${base}/big.bin`, o.seconds));
    keep('download', dl.result, dl.cpu, dl.loopP99);
    log(`download ${dl.result.toFixed(2)} GB/s${note(dl.cpu, dl.loopP99)}`);
  }
  if ((what === 'keep-alive' || what === 'close') && row.ports.nginx !== undefined) {
    const close = what === 'close';
    const m = await measured(row, () => wrk(`${base}/`, o.seconds, close));
    keep(close ? 'closeRps' : 'kaRps', m.result.rps, m.cpu, m.loopP99);
    results.add(row.key, close ? 'closeP99' : 'kaP99', m.result.p99Ms);
    if (m.result.errors) results.notes.push(`round ${round}, ${row.label}, ${close ? '`Connection: close`' : 'keep-alive'}: ${m.result.errors}`);
    log(`${close ? 'close' : 'keep-alive'} ${Math.round(m.result.rps)} req/s, p99 ${m.result.p99Ms.toFixed(2)} ms${note(m.cpu, m.loopP99)}${m.result.errors ? `, ${m.result.errors}` : ''}`);
  }
  if (what === 'udp' && row.ports.udp !== undefined) {
    const port = row.ports.udp;
    const m = await measured(row, async () => {
      const out = JSON.parse(await run([process.execPath, udpLoad, 'client', String(port), String(o.udpClients), String(o.seconds)])) as Record<string, unknown>;
      // No answer at all gives null percentiles (NaN in JSON): shown as "—".
      const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);
      return { rps: num(out.rps), p50Ms: num(out.p50Ms), p99Ms: num(out.p99Ms), lost: num(out.lost) };
    });
    keep('udpRps', m.result.rps, m.cpu, m.loopP99);
    results.add(row.key, 'udpP50', m.result.p50Ms);
    results.add(row.key, 'udpP99', m.result.p99Ms);
    if (m.result.lost > 0) results.notes.push(`round ${round}, ${row.label}, UDP: ${m.result.lost} requests unanswered within 1 s`);
    log(`UDP ${Math.round(m.result.rps)} req/s, p50 ${m.result.p50Ms.toFixed(3)} ms, p99 ${m.result.p99Ms.toFixed(3)} ms${note(m.cpu, m.loopP99)}`);
  }
}

/** Publishes a UDP mapping if this build has them; undefined (and why) if not. */
async function publishUdp(app: BerthApp, port: number, target: number): Promise<number | undefined> {
  const added = await app.cli(['ports', 'add', '-p', `127.0.0.1:${port}:${target}/udp`, '--json']);
  if (added.code === 0) return port;
  if (/UDP/i.test(added.stderr) && added.code === 64) return undefined;
  throw new Error(`berth ports add for UDP failed (${added.code}): ${added.stderr.trim()}`);
}

async function main(): Promise<void> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) throw new Error('run it as root on Linux (it reads /proc, and runs the helper as root): npm run bench:forwarder');
  const o = options(process.argv.slice(2));
  const versions = checkTools();
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-fwd-'));
  alias(dir, '$DIR');
  alias(join(__dirname, 'udp-load.js'), 'dist/bench/udp-load.js');
  alias(process.execPath, 'node');
  chmodSync(dir, 0o755); // nginx's workers run as nobody, and berth-test's nginx too: they must read www/.
  mkdirSync(join(dir, 'www'));
  mkdirSync(join(dir, 'tmp'));
  // Zeros written out (not a sparse file, whose pages the first reader would pay for: the first row of
  // round 1 measured a fraction of the others' download), so the file is in the page cache from the start.
  const big = openSync(join(dir, 'www/big.bin'), 'w');
  const mib = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < BIG_FILE_MIB; i++) writeSync(big, mib);
  closeSync(big);

  // Interrupted (Ctrl-C, kill): nothing it started stays behind (the root helper, nginx, the apps), nor its files.
  const abort = (): void => {
    killStarted();
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  const stops: Array<() => Promise<void>> = [];
  const startedAt = new Date();
  const loadBefore = load();
  const results = new Results();
  const roundLoads: string[] = [];
  const bursts: Burst[] = [];
  const idle: IdleMemory[] = [];
  let system: BerthSystem | undefined;
  let udpAvailable: boolean | undefined;
  const rows: Row[] = [];
  try {
    // The targets, up for the whole run.
    const nginxPort = await freePort();
    alias(nginxPort, '$NGINX_PORT');
    writeFileSync(join(dir, 'target.conf'), nginxConf(dir, 'target', nginxPort));
    const nginx = start(['nginx', '-e', join(dir, 'target-error.log'), '-c', join(dir, 'target.conf'), '-g', 'daemon off;']);
    stops.push(() => stop(nginx));
    await waitForHttp(`http://127.0.0.1:${nginxPort}/`, nginx);
    const iperfPort = await freePort();
    alias(iperfPort, '$IPERF3_PORT');
    const iperf = start(['iperf3', '-s', '-B', '127.0.0.1', '-p', String(iperfPort)]);
    stops.push(() => stop(iperf));
    // iperf3's control connection would take a bare probe for a client: wait for its banner instead.
    for (let i = 0; i < 100 && !iperf.output().includes('listening'); i++) await sleep(50);
    const udpPort = await freePort();
    alias(udpPort, '$UDP_PORT');
    const udpLoad = join(__dirname, 'udp-load.js');
    const echo = start([process.execPath, udpLoad, 'server', String(udpPort)]);
    stops.push(() => stop(echo));
    for (let i = 0; i < 200 && !echo.output().includes('ready'); i++) await sleep(25);

    const want = (key: string): boolean => o.paths.includes(key);
    const direct: Row = { key: 'direct', label: 'direct (client → target)', ports: { nginx: nginxPort, iperf3: iperfPort, udp: udpPort }, pids: () => [] };
    if (want('direct')) rows.push(direct);
    if (want('socat')) {
      const socat = async (target: number, name: string): Promise<{ child: ReturnType<typeof start>; port: number }> => {
        const port = await freePort();
        alias(port, `$SOCAT_${name}_PORT`);
        // backlog=511 as Berth and nginx use: socat's default of 5 drops the SYNs of wrk's 50 connections.
        const child = start(['socat', `TCP-LISTEN:${port},fork,reuseaddr,bind=127.0.0.1,backlog=511`, `TCP:127.0.0.1:${target}`]);
        stops.push(() => stop(child));
        await waitForPort(port, child);
        return { child, port };
      };
      const [toNginx, toIperf] = [await socat(nginxPort, 'HTTP'), await socat(iperfPort, 'IPERF3')];
      rows.push({
        key: 'socat',
        label: 'socat `TCP-LISTEN,fork,backlog=511`',
        ports: { nginx: toNginx.port, iperf3: toIperf.port },
        pids: () => [...processTree(toNginx.child.pid!), ...processTree(toIperf.child.pid!)],
      });
    }

    if (want('haproxy')) {
      const [toNginx, toIperf] = [await freePort(), await freePort()];
      alias(toNginx, '$HAPROXY_HTTP_PORT');
      alias(toIperf, '$HAPROXY_IPERF3_PORT');
      writeFileSync(join(dir, 'haproxy.cfg'), haproxyConf(toNginx, nginxPort, toIperf, iperfPort));
      const child = start(['haproxy', '-db', '-f', join(dir, 'haproxy.cfg')]);
      stops.push(() => stop(child));
      await waitForPort(toNginx, child);
      await waitForPort(toIperf, child);
      rows.push({
        key: 'haproxy',
        label: 'HAProxy `mode tcp`, `option splice-auto`, one thread',
        ports: { nginx: toNginx, iperf3: toIperf },
        pids: () => processTree(child.pid!),
      });
    }

    if (['berth', 'berth80', 'run'].some(want)) {
      system = await startBerthSystem(dir, join(__dirname, '..'));
      if (o.planes.some((p) => p !== undefined) && !system.knowsDataPlane) {
        console.error('bench: this build has no BERTH_DATA_PLANE switch: every --plane row runs its one data plane');
      }
    }
    for (const [i, plane] of o.planes.entries()) {
      if (!system || !(want('berth') || want('berth80'))) break;
      const app = await system.startApp(plane);
      const pids = (): number[] => [app.pid];
      const suffix = plane === undefined ? '' : `:${plane}`;
      if (want('berth')) {
        const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
        alias(p1, `$BERTH${suffix.toUpperCase().replace(':', '_')}_HTTP_PORT`);
        alias(p2, `$BERTH${suffix.toUpperCase().replace(':', '_')}_IPERF3_PORT`);
        alias(p3, `$BERTH${suffix.toUpperCase().replace(':', '_')}_UDP_PORT`);
        await app.publish(`127.0.0.1:${p1}=127.0.0.1:${nginxPort}`);
        await app.publish(`127.0.0.1:${p2}=127.0.0.1:${iperfPort}`);
        const udp = await publishUdp(app, p3, udpPort);
        udpAvailable = udp !== undefined;
        rows.push({ key: `berth${suffix}`, label: `\`berth ports add\`, bound by the app${planeLabel(plane)}`, ports: { nginx: p1, iperf3: p2, udp }, pids, app });
      }
      if (want('berth80')) {
        const [http, tcp, udp] = [LOW.nginx + i, LOW.iperf3 + i, LOW.udp + i];
        for (const [port, target] of [
          [http, nginxPort],
          [tcp, iperfPort],
        ]) {
          const status = await app.publish(`127.0.0.1:${port}=127.0.0.1:${target}`);
          if (status.via !== 'helper') throw new Error(`127.0.0.1:${port} was bound ${status.via ?? status.state}, not by the helper: is the network namespace private?`);
        }
        const udpMapped = udpAvailable === false ? undefined : await publishUdp(app, udp, udpPort);
        udpAvailable = udpMapped !== undefined;
        rows.push({ key: `berth80${suffix}`, label: `\`berth ports add\` 127.0.0.1:${http}, bound by the helper${planeLabel(plane)}`, ports: { nginx: http, iperf3: tcp, udp: udpMapped }, pids, app });
      }
    }
    if (system && want('run')) {
      // nginx on the socket the helper bound for `berth run` (NGINX="3;" is how nginx takes an inherited
      // listening socket), as berth-test; its files in a folder of that user's.
      const own = system.userDir('run-nginx');
      mkdirSync(join(own, 'tmp'), { recursive: true });
      chownSync(join(own, 'tmp'), system.user.uid, system.user.gid);
      alias(own, '$RUN_DIR');
      writeFileSync(join(own, 'run.conf'), nginxConf(own, 'run', LOW.run, join(dir, 'www')));
      const nginxPath = which('nginx');
      alias(nginxPath, 'nginx');
      const argv = [nginxPath, '-e', join(own, 'run-error.log'), '-c', join(own, 'run.conf'), '-g', 'daemon off;'];
      const startedAt = Date.now();
      const child = system.run(`127.0.0.1:${LOW.run}`, argv, { NGINX: '3;' }, `NGINX='3;' berth run -p 127.0.0.1:${LOW.run} --helper-socket $HELPER_SOCKET -- ${argv.slice(0, -1).join(' ')} "daemon off;"   # as berth-test`);
      stops.push(() => stop(child));
      await waitForHttp(`http://127.0.0.1:${LOW.run}/`, child);
      // berth's own Node process stays as CMD's parent and is idle but for one garbage collection
      // ~8 s after it started: measured from 10 s on, the steady state of a `berth run` that serves a while.
      // Its CPU is berth's own process (CMD's parent), not nginx's: nginx is the target, as in the direct row.
      rows.push({ key: 'run', label: `\`berth run -p 127.0.0.1:${LOW.run}\` (nginx on the fd the helper bound)`, ports: { nginx: LOW.run }, pids: () => (child.exitCode === null ? [child.pid!] : []), notBefore: startedAt + 10_000 });
    }
    if (udpAvailable === false || udpAvailable === undefined) direct.ports.udp = undefined;
    if (rows.length === 0) throw new Error('--paths names no path that can run here');

    // Every row settled before round 1 (`berth run`'s own start-up included), so that no row's start
    // steals from another's first figures.
    for (const row of rows) await settle(row);
    await download(`http://127.0.0.1:${nginxPort}/big.bin`, 1); // warm: nginx's and the kernel's first use of the file
    for (let round = 1; round <= o.rounds; round++) {
      const loadAtStart = load();
      const order = rows.map((_, i) => rows[(i + round - 1) % rows.length]!);
      for (const what of LOADS) for (const row of order) await measureLoad(row, what, o, results, round, udpLoad);
      roundLoads.push(`round ${round}: ${loadAtStart} → ${load()} (order: ${order.map((r) => r.key).join(', ')})`);
    }
    const socatRow = rows.find((r) => r.key === 'socat');
    if (socatRow && o.idleConnections > 0) {
      await settle(socatRow);
      idle.push(await idleConnections(socatRow, socatRow.ports.nginx!, o.idleConnections));
      console.error(`bench: idle connections, socat: done (load ${load()})`);
    }
    // Memory on a fresh app per plane: the rounds' traffic left freed memory in the rounds' apps (kept
    // for reuse: FORWARDING_HEAP_TRIM_THRESHOLD in main/core/ports/forwarder.ts), which would hide what
    // new connections cost. Idle connections first, then the burst, whose baseline is the app idle just before it.
    await system?.closeApps();
    for (const plane of system && want('berth') && (o.idleConnections > 0 || o.burstGb > 0) ? o.planes : []) {
      const app = await system!.startApp(plane);
      try {
        const [http, tcp] = [await freePort(), await freePort()];
        await app.publish(`127.0.0.1:${http}=127.0.0.1:${nginxPort}`);
        await app.publish(`127.0.0.1:${tcp}=127.0.0.1:${iperfPort}`);
        const key = `berth${plane === undefined ? '' : `:${plane}`}`;
        // Each baseline is read 10 s after the last activity (start-up and publishing, then the idle
        // connections): V8's memory reducer collects once ~8 s after activity, and would otherwise shrink
        // the process between the baseline and the reading after it.
        const row: Row = { key, label: `a fresh \`berth app\`${planeLabel(plane)}`, ports: { nginx: http, iperf3: tcp }, pids: () => [app.pid], app, notBefore: Date.now() + 10_000 };
        if (o.idleConnections > 0) {
          await settle(row);
          idle.push(await idleConnections(row, http, o.idleConnections, app));
          console.error(`bench: idle connections, ${key}: done (load ${load()})`);
          row.notBefore = Date.now() + 10_000;
        }
        if (o.burstGb > 0) {
          await settle(row);
          bursts.push(await burst(row, app, tcp, o.burstGb));
          console.error(`bench: burst, ${key}: done (load ${load()})`);
        }
      } finally {
        await app.close();
      }
    }
  } finally {
    await system?.close();
    for (const s of stops.reverse()) await s();
    rmSync(dir, { recursive: true, force: true });
  }

  const summary: RunSummary = {
    startedAt,
    machine: machine(),
    versions: [...versions.values()],
    options: { ...o, planes: o.planes.map((p) => p ?? '(the build\'s own)') },
    loadBefore,
    loadAfter: load(),
    roundLoads,
    paths: rows.map(({ key, label }) => ({ key, label })),
    results,
    bursts,
    idle,
    udpAvailable: udpAvailable === true,
    knowsDataPlane: system?.knowsDataPlane ?? false,
  };
  const { markdown, json } = report(summary);
  console.log(markdown);
  const file = o.json ?? join(__dirname, '../../bench/results', `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  console.error(`bench: results also in ${file}`);
}

main().catch((error: unknown) => {
  console.error(`bench: ${(error as Error).message}`);
  process.exitCode = 1;
});
