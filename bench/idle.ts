// What Berth costs while nobody uses it, and what the first use then costs:
// 1. memory while idle: helper processes and RSS with socket activation (the
//    helper exits when idle), kept running, and standalone (supervisor +
//    helper), beside a bare Node process (the least a Node supervisor costs);
// 2. cold start: connect -> hello -> bindPort (fd received, listening) with no
//    helper running, under real socket activation (Debian's
//    systemd-socket-activate, in a loop) and under an activator that keeps
//    the socket between helper lives as systemd does
//    (test/support/socket-activator.ts), side by side with the same exchange
//    on a running helper, and bindPort alone on an open connection;
// 3. helper wake-ups per minute while the app idles: the real Backend with its
//    10 s refresh, against the same refresh asking the helper every time
//    (gatherCapabilities without the probe cache, as before the cache).
// Run as root: `npm run bench:idle` (in private network and mount namespaces, a tmpfs on /mnt).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HelperClient } from '../main/helper-client';
import { Backend } from '../main/core/backend';
import { gatherCapabilities } from '../main/core/capabilities/gather';
import { readAppPolicy } from '../main/core/policy/app-policy';
import { DEFAULT_SETTINGS } from '../common/settings/schema';
import { installLayout } from '../common/paths';
import { userPaths } from '../common/user-paths';
import { handOffSocket, prepareSocketPath } from '../helper/daemon/socket-file';
import { supervisorArgs } from '../helper/install/supervisor';
import { runActivator, startActivator } from '../test/support/socket-activator';
import { summarize } from './stats';

const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 20);
const IDLE_MINUTE_MS = Number(process.env.BENCH_IDLE_MS ?? 60_000);
const REFRESH_MS = 10_000;
/** Short, so cold starts come quickly one after another; also makes every connection a start, so starts count connections. */
const IDLE_EXIT_MS = 100;
/** The helper serves this uid; the client takes it (seteuid) for bindPort, which the helper refuses root (NOT_NEEDED). */
const USER = 65534;
const PORT = 881;

/** Lines of a child's output, and a way to wait for one. */
class Output {
  text = '';
  constructor(child: ChildProcess, stream: 'stdout' | 'stderr') {
    child[stream]!.setEncoding('utf8').on('data', (c: string) => (this.text += c));
  }
  count(needle: string): number {
    return this.text.split(needle).length - 1;
  }
  async until(needle: string, times: number): Promise<void> {
    for (let i = 0; i < 2000 && this.count(needle) < times; i++) await sleep(5);
    if (this.count(needle) < times) throw new Error(`timed out waiting for "${needle}" x${times}:\n${this.text.slice(-2000)}`);
  }
}

function rssKb(pid: number): number {
  return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

/** Live processes whose command line holds `needle` (the helper's config path is unique to this run), but `holders`. */
function processesWith(needle: string, holders: ReadonlyArray<ChildProcess | undefined> = []): number[] {
  const skip = new Set(holders.map((child) => child?.pid));
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z');
      } catch {
        return false;
      }
    })
    .map(Number)
    .filter((pid) => !skip.has(pid));
}

/** connect -> hello -> bindPort -> listening on the fd, as the app does for a low port; ms. */
async function firstBind(socketPath: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  process.seteuid!(USER);
  const client = await HelperClient.connect(socketPath, { requestTimeoutMs: 30_000 }).finally(() => process.seteuid!(0));
  try {
    await listenOn(client);
  } finally {
    client.close();
  }
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function listenOn(client: HelperClient): Promise<void> {
  const bound = await client.bindPort({ address: '127.0.0.1', port: PORT, protocol: 'tcp' });
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ fd: bound.fd }, () => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

const fmt = (ms: number): string => ms.toFixed(1);
const rows: string[] = [];
function latencyRow(what: string, samples: number[]): void {
  const s = summarize(samples.map((ms) => ms * 1e6));
  const max = Math.max(...samples);
  rows.push(`| ${what} | ${fmt(s.p50)} | ${fmt(s.p99)} | ${fmt(max)} | ${s.count} |`);
  console.error(`bench: ${what}: p50 ${fmt(s.p50)} ms, p99 ${fmt(s.p99)} ms, max ${fmt(max)} ms (${s.count})`);
}

async function main(): Promise<void> {
  if (process.argv[2] === '--activator') return runActivator(process.argv.slice(3));
  if (process.getuid?.() !== 0) throw new Error('run as root: the helper runs as root');
  // The helper reads its config only through directories that are root's alone (not /tmp): npm run
  // bench:idle mounts a tmpfs on /mnt in a private mount namespace for this.
  const dir = mkdtempSync(join(process.env.BENCH_DIR ?? '/mnt', 'berth-idle-bench-'));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'run'), { mode: 0o755 });
  const configPath = join(dir, 'helper.json');
  const socketPath = join(dir, 'run/helper.sock');
  // Its own state dir: who wants the hosts block and the links is recorded there, never in the machine's /var/lib/berth.
  writeFileSync(configPath, JSON.stringify({ socketPath, allowUid: USER, stateDir: join(dir, 'state'), limits: { idleExitMs: IDLE_EXIT_MS } }), { mode: 0o644 });
  const sea = join(__dirname, '../sea/berth-helper');
  const helpers: Array<[string, string[]]> = [
    ['node + bundle', [process.execPath, join(__dirname, '../helper/berth-helper.js'), 'serve', '--config', configPath]],
    ...(existsSync(sea) ? [['single executable (as shipped)', [sea, 'serve', '--config', configPath]] as [string, string[]]] : []),
  ];
  const running: ChildProcess[] = [];
  const memory: string[] = [];
  const wakeups: string[] = [];
  try {
    // The floor: a Node process that starts and exits, and one that idles (what a Node supervisor costs at least).
    const bare: number[] = [];
    for (let i = 0; i < COLD_RUNS; i++) {
      const t0 = process.hrtime.bigint();
      spawnSync(process.execPath, ['-e', '0']);
      bare.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    latencyRow('bare `node -e 0`, start to exit (the floor of any Node cold start)', bare);

    for (const [name, command] of helpers) {
      // Cold, under an activator that keeps the socket as systemd does.
      const activator = await startActivator(socketPath, [process.execPath, __filename, '--activator'], command);
      running.push(activator);
      const events = new Output(activator, 'stdout');
      const cold: number[] = [];
      for (let i = 1; i <= COLD_RUNS; i++) {
        cold.push(await firstBind(socketPath));
        await events.until('"event":"exit"', i);
      }
      latencyRow(`${name}: cold, connect → hello → bindPort → listening (activator keeping the socket, as systemd)`, cold);
      if (processesWith(configPath, [activator]).length === 0) memory.push(`| ${name}, socket-activated, after its idle exit | 0 | 0 |`);
      // Warm: the same exchange with the helper running (a connection held open keeps it up), and bindPort alone.
      process.seteuid!(USER);
      const keeper = await HelperClient.connect(socketPath).finally(() => process.seteuid!(0));
      const warm: number[] = [];
      for (let i = 0; i < COLD_RUNS; i++) warm.push(await firstBind(socketPath));
      latencyRow(`${name}: warm, connect → hello → bindPort → listening (helper running)`, warm);
      const alone: number[] = [];
      for (let i = 0; i < COLD_RUNS; i++) {
        const t0 = process.hrtime.bigint();
        await listenOn(keeper);
        alone.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      latencyRow(`${name}: warm, bindPort → listening on an open connection`, alone);
      await sleep(2_000);
      const [pid] = processesWith(configPath, [activator]);
      memory.push(`| ${name}, running (idle 2 s, one connection open) | 1 | ${(rssKb(pid!) / 1024).toFixed(1)} |`);
      keeper.close();
      await events.until('"event":"exit"', COLD_RUNS + 1);
      process.kill(-activator.pid!, 'SIGKILL');
      await sleep(100);

      // Cold, under Debian's systemd-socket-activate: it serves one helper life, so a loop starts it again.
      const tool = spawn('bash', ['-c', 'while :; do systemd-socket-activate -l "$0" "$@" || exit; done', socketPath, ...command], {
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true,
      });
      running.push(tool);
      const log = new Output(tool, 'stderr');
      const viaTool: number[] = [];
      for (let i = 1; i <= COLD_RUNS; i++) {
        await log.until('Listening on', i);
        chmodSync(socketPath, 0o666); // the tool makes it 0644 and cannot be told otherwise
        viaTool.push(await firstBind(socketPath));
      }
      latencyRow(`${name}: cold, connect → hello → bindPort → listening (systemd-socket-activate)`, viaTool);
      process.kill(-tool.pid!, 'SIGKILL');
      await sleep(100);
      rmSync(socketPath, { force: true });
    }

    // Standalone: the /bin/sh supervisor holding the socket, and its helper, idle.
    await prepareSocketPath(socketPath);
    const supervisor = await handOffSocket(socketPath, (fd) =>
      spawn('/bin/sh', supervisorArgs(socketPath, helpers[0]![1]), { stdio: ['ignore', 'ignore', 'pipe', fd], detached: true, env: { PATH: '/usr/bin:/bin' } }),
    );
    running.push(supervisor);
    await new Output(supervisor, 'stderr').until(': serving on', 1);
    await sleep(2_000);
    const [helperPid] = processesWith(configPath, [supervisor]);
    memory.push(`| standalone: the /bin/sh supervisor | 1 | ${(rssKb(supervisor.pid!) / 1024).toFixed(1)} |`);
    memory.push(`| standalone: its helper (node + bundle) | 1 | ${(rssKb(helperPid!) / 1024).toFixed(1)} |`);
    process.kill(-supervisor.pid!, 'SIGTERM');
    await sleep(500);
    const idleNode = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
    running.push(idleNode);
    await sleep(1_000);
    memory.push(`| peer: a bare Node process idling (the least a Node supervisor costs) | 1 | ${(rssKb(idleNode.pid!) / 1024).toFixed(1)} |`);
    idleNode.kill('SIGKILL');

    // Wake-ups while the app idles, counted as helper starts under the activator (every connection is one).
    const home = join(dir, 'home');
    mkdirSync(home, { mode: 0o700 });
    const layout = { ...installLayout(), socketPath, socketDir: join(dir, 'run'), configPath, userModePath: join(dir, 'user-mode.json'), stateDir: join(dir, 'state') };
    for (const mode of ['after', 'before'] as const) {
      rmSync(socketPath, { force: true });
      const activator = await startActivator(socketPath, [process.execPath, __filename, '--activator'], helpers[0]![1]);
      running.push(activator);
      const events = new Output(activator, 'stdout');
      let stop: () => Promise<void>;
      if (mode === 'after') {
        const backend = await Backend.start({ paths: userPaths({ home, env: {} }), layout, appPath: '/opt/Berth', log: { info() {}, warn() {} } });
        stop = () => backend.close();
      } else {
        const refresh = (): Promise<unknown> =>
          gatherCapabilities({ settings: DEFAULT_SETTINGS, policy: readAppPolicy({ configPath, stateDir: layout.stateDir }), helperSocketPath: socketPath, helperConfigPath: configPath });
        await refresh();
        const timer = setInterval(() => void refresh(), REFRESH_MS);
        stop = async () => clearInterval(timer);
      }
      // The first look starts the helper; it then exits, idle. From here on, every start is a wake-up.
      await events.until('"event":"exit"', 1);
      const before = events.count('"event":"start"');
      await sleep(IDLE_MINUTE_MS);
      const starts = events.count('"event":"start"') - before;
      await stop();
      const perMinute = (starts * 60_000) / IDLE_MINUTE_MS;
      wakeups.push(
        `| ${mode === 'after' ? 'the backend (refresh every 10 s, probe cache)' : 'the same refresh asking the helper every time (before)'} | ${IDLE_MINUTE_MS / 1000} s | ${starts} | ${perMinute.toFixed(1)} |`,
      );
      console.error(`bench: wake-ups, ${mode}: ${starts} in ${IDLE_MINUTE_MS / 1000} s`);
      process.kill(-activator.pid!, 'SIGKILL');
      await sleep(200);
    }
  } finally {
    for (const child of running) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }
    await sleep(200);
    rmSync(dir, { recursive: true, force: true });
  }

  console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end.\n`);
  console.log('| path | p50 ms | p99 ms | max ms | runs |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
  console.log('\n| while idle | helper processes | RSS MiB |');
  console.log('| --- | --- | --- |');
  for (const m of memory) console.log(m);
  console.log('\n| app idling | watched | helper wake-ups (connections) | per minute |');
  console.log('| --- | --- | --- | --- |');
  for (const w of wakeups) console.log(w);
}

main().catch((error: unknown) => {
  console.error(`bench: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
});
