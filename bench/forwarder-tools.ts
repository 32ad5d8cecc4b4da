// The outside tools the port-forwarding benchmark drives (iperf3, wrk, curl,
// nginx, socat, haproxy), how their output is read, and what /proc says about a
// process (CPU time, RSS, PSS, open fds). Linux only: it reads /proc.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** The tools and the Debian package each comes from. */
export const TOOLS: ReadonlyArray<[command: string, versionArgs: string[], pkg: string]> = [
  ['iperf3', ['--version'], 'iperf3'],
  ['wrk', ['-v'], 'wrk'],
  ['nginx', ['-v'], 'nginx-light'],
  ['socat', ['-V'], 'socat'],
  ['haproxy', ['-v'], 'haproxy'],
  ['curl', ['--version'], 'curl'],
];

/** Each tool's first version line; throws one sentence naming what to install when any is missing. */
export function checkTools(): Map<string, string> {
  const versions = new Map<string, string>();
  const missing: string[] = [];
  for (const [command, args] of TOOLS) {
    const run = spawnSync(command, args, { encoding: 'utf8' });
    if (run.error) missing.push(command);
    else versions.set(command, `${run.stdout}${run.stderr}`.split('\n').find((l) => l.trim() !== '')?.trim() ?? command);
  }
  if (missing.length > 0) {
    throw new Error(`${missing.join(', ')} not found: run bench/deps.sh as root (apt-get install ${TOOLS.map(([, , pkg]) => pkg).join(' ')})`);
  }
  return versions;
}

/** Where `command` is on this PATH (root's has /usr/sbin, where nginx is; a user's does not). */
export function which(command: string): string {
  const found = spawnSync('sh', ['-c', 'command -v "$0"', command], { encoding: 'utf8' }).stdout.trim();
  if (!found.startsWith('/')) throw new Error(`${command} not found`);
  return found;
}

/** Every command the benchmark ran, once each, to print with the results. */
export const commandsUsed: string[] = [];

/** Ports, paths and the like shown by name in the printed commands, so one command prints once over all rounds. */
const aliases = new Map<string, [RegExp, string]>();

/** From now on, `text` (a port is matched as a whole number) prints as `name`. */
export function alias(text: string | number, name: string): void {
  const escaped = String(text).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  aliases.set(String(text), [new RegExp(typeof text === 'number' ? `(?<!\\d)${escaped}(?!\\d)` : escaped, 'g'), name]);
}

/** The longest texts first, so that a path inside an aliased folder prints by its own name. */
function applyAliases(text: string): string {
  return [...aliases.entries()].sort(([a], [b]) => b.length - a.length).reduce((t, [, [pattern, name]]) => t.replace(pattern, name), text);
}

function record(argv: readonly string[], env?: Record<string, string>): void {
  argv = argv.map(applyAliases);
  // Double quotes, so the $NAMES of the aliases still read as shell variables.
  const quoted = argv.map((a) => (/^[\w./:=@%,+$-]+$/.test(a) ? a : `"${a.replace(/["\\`]/g, '\\$&')}"`)).join(' ');
  recordLine(`${env ? Object.entries(env).map(([k, v]) => `${k}='${v}' `).join('') : ''}${quoted}`);
}

/** Adds a command line, as written (aliases applied), to the report's commands; once each. */
export function recordLine(line: string): void {
  line = applyAliases(line);
  if (!commandsUsed.includes(line)) commandsUsed.push(line);
}

/** Runs a command to its end and returns its stdout; rejects with its stderr if it fails. */
export function run(argv: readonly string[]): Promise<string> {
  record(argv);
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${argv[0]} exited with ${code}: ${(err || out).trim().slice(-500)}`))));
  });
}

/**
 * Starts a long-running process (a server or a forwarder); stdout and stderr are kept for error messages.
 * `shown` is what the report prints instead of argv (a command run as another user, without the setpriv prefix).
 */
export function start(argv: readonly string[], env?: Record<string, string>, shown?: string): ChildProcess & { output: () => string } {
  if (shown === undefined) record(argv, env);
  else recordLine(shown);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (output += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (output += c));
  return Object.assign(child, { output: () => output });
}

/** The long-running processes started and not yet gone. */
const running = new Set<ChildProcess>();

/** Kills every process start() started that still runs (the bench was interrupted: no root helper is left behind). */
export function killStarted(): void {
  // The whole trees, gathered before any dies: nginx's workers and `berth run`'s CMD outlive a killed parent.
  const pids = [...running].flatMap((child) => (child.pid === undefined ? [] : processTree(child.pid)));
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}

/** Ends a process we started and waits for it to be gone. */
export async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const late = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(late);
}

/** A free loopback port (bound, read, released; nothing else here picks ports). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once an HTTP GET of `url` answers 200 (the server is up and serving, not just bound). */
export async function waitForHttp(url: string, child: ChildProcess & { output: () => string }): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${child.spawnfile} exited: ${child.output().trim().slice(-500)}`);
    const ok = await fetch(url).then(
      async (r) => (await r.arrayBuffer(), r.status === 200),
      () => false,
    );
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${url} did not answer within 10 s: ${child.output().trim().slice(-500)}`);
}

/** Resolves once a TCP connection to `port` is accepted and the process is still alive. */
export async function waitForPort(port: number, child: ChildProcess & { output: () => string }): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${child.spawnfile} exited: ${child.output().trim().slice(-500)}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on port ${port} after 10 s: ${child.output().trim().slice(-500)}`);
}

/** A minimal nginx: one worker, no access log, `/` answers a 3-byte body, files (the bulk download) served with sendfile. */
export function nginxConf(dir: string, name: string, port: number, www = `${dir}/www`): string {
  return `worker_processes 1;
worker_rlimit_nofile 8192;
pid ${dir}/${name}.pid;
error_log ${dir}/${name}-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/tmp;
  proxy_temp_path ${dir}/tmp;
  fastcgi_temp_path ${dir}/tmp;
  uwsgi_temp_path ${dir}/tmp;
  scgi_temp_path ${dir}/tmp;
  server {
    listen 127.0.0.1:${port};
    root ${www};
    location = / { return 200 "ok\\n"; }
  }
}
`;
}

/**
 * HAProxy as a second peer: the established user-space TCP proxy, set up as
 * the native plane works (one thread, splice(2) where it pays, TCP_NODELAY
 * by default in mode tcp), so the two differ only in their code.
 */
export function haproxyConf(httpPort: number, nginxPort: number, iperfPort: number, iperfTarget: number): string {
  return `global
  nbthread 1
  maxconn 4000
defaults
  mode tcp
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  option splice-auto
listen http
  bind 127.0.0.1:${httpPort} backlog 511
  server target 127.0.0.1:${nginxPort}
listen iperf3
  bind 127.0.0.1:${iperfPort} backlog 511
  server target 127.0.0.1:${iperfTarget}
`;
}

export interface WrkResult {
  rps: number;
  p99Ms: number;
  errors: string | undefined;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** wrk's "Requests/sec", its 99% latency, and any socket errors or non-2xx answers. */
export function parseWrk(out: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p99 = /^\s*99%\s+([\d.]+)(us|ms|s|m)\b/m.exec(out);
  const errors = [/Socket errors:.*$/m.exec(out)?.[0], /Non-2xx or 3xx responses:.*$/m.exec(out)?.[0]].filter(Boolean).join('; ');
  return { rps, p99Ms: p99 ? Number(p99[1]) * UNIT_MS[p99[2]!]! : NaN, errors: errors || undefined };
}

export async function wrk(url: string, seconds: number, close: boolean): Promise<WrkResult> {
  const argv = ['wrk', '-t1', '-c50', `-d${seconds}s`, '--latency', ...(close ? ['-H', 'Connection: close'] : []), url];
  return parseWrk(await run(argv));
}

/** Single-stream throughput in GB/s (10^9 bytes), as the receiver counted it: for `seconds`, or until `bytes` (iperf3's -n, e.g. "10G") went through. */
export async function iperf3(port: number, seconds: number, bytes?: string): Promise<number> {
  const length = bytes === undefined ? ['-t', String(seconds)] : ['-n', bytes];
  const out = await run(['iperf3', '-c', '127.0.0.1', '-p', String(port), ...length, '-J']);
  const json = JSON.parse(out) as { error?: string; end?: { sum_received?: { bits_per_second?: number } } };
  if (json.error) throw new Error(`iperf3: ${json.error}`);
  return (json.end?.sum_received?.bits_per_second ?? NaN) / 8 / 1e9;
}

/**
 * Bulk HTTP download over one connection at a time, in GB/s: curl fetches the
 * file again and again for `seconds`; bytes over curl's own transfer times
 * (so curl's start-up is not counted).
 */
export async function download(url: string, seconds: number): Promise<number> {
  let bytes = 0;
  let time = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const out = await run(['curl', '-sS', '--fail', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', url]);
    const [size, total] = out.trim().split(' ').map(Number);
    bytes += size!;
    time += total!;
  }
  return bytes / time / 1e9;
}

/* /proc readings */

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU seconds a process used, its own and its reaped children's (socat's forks). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime, stime, cutime, cstime: fields 14-17 of stat(5), 11-14 after "pid (comm) ".
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / CLK_TCK;
}

/** `pid` and every process below it. */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // Gone meanwhile.
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(parents.get(tree[i]!) ?? []));
  return tree;
}

/** RSS and PSS in KiB, summed over `pids` (PSS shares each shared page among its users: fair for socat's forks). */
export function memory(pids: readonly number[]): { rssKb: number; pssKb: number } {
  let rssKb = 0;
  let pssKb = 0;
  for (const pid of pids) {
    try {
      rssKb += Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      pssKb += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch {
      // Gone meanwhile.
    }
  }
  return { rssKb, pssKb };
}

/** Open sockets, summed over `pids`. */
export function openSockets(pids: readonly number[]): number {
  let count = 0;
  for (const pid of pids) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) count++;
        } catch {
          // Closed meanwhile.
        }
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return count;
}

/** The machine, for the report: CPU model, cores, kernel, Node. */
export function machine(): string {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const cores = readFileSync('/proc/cpuinfo', 'utf8').match(/^processor\s*:/gm)?.length ?? 0;
  const kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  const memKb = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? NaN);
  return `${cpu}, ${cores} cores, ${(memKb / 1024 / 1024).toFixed(1)} GiB RAM, Linux ${kernel}, Node ${process.version}`;
}

/** The 1-minute load average. */
export function load(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}
