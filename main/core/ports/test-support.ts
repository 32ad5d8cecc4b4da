/**
 * Test support for the port-publishing tests (not shipped): private network
 * namespaces, the real helper started inside one, and the ports fixtures run
 * as an unprivileged user there.
 *
 * Why namespaces: port 80 on 127.0.0.1 is one port per network namespace,
 * and other test files use it at the same time in the suite's shared one.
 * A namespace of our own (a `sleep` that holds it; everything else enters
 * it with nsenter, which execs in place so pids stay the program's) makes
 * 127.0.0.1:80 this test's alone, and lets a test set
 * ip_unprivileged_port_start there without touching anything else.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, inject } from 'vitest';
import { bindSocket } from '../../../native';
import type { MappingSpec, MappingStatus } from '../../../common/ports/mapping';
import { REPO_ROOT, type TestUser } from '../../../test/support/constants';
import { scratchStateArgs, withPrivateSystemPaths } from '../../../test/support/processes';
import { asUserPrefix } from '../../../test/support/user-home';

/** Reads a child's stdout as JSON lines; `next(pred)` resolves with the first (past or future) line that matches. */
export class JsonLines {
  readonly lines: Array<Record<string, unknown>> = [];
  private readonly waiters: Array<{ pred: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void; from: number }> = [];
  stderr = '';
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    let buffer = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
        const text = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        if (text.trim() === '') continue;
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text) as Record<string, unknown>;
        } catch {
          line = { text };
        }
        this.lines.push(line);
        for (const waiter of [...this.waiters]) {
          if (waiter.pred(line)) {
            this.waiters.splice(this.waiters.indexOf(waiter), 1);
            waiter.resolve(line);
          }
        }
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** The first line from index `from` on that matches; rejects if the process exits first. */
  next(pred: (line: Record<string, unknown>) => boolean, from = 0): Promise<Record<string, unknown>> {
    const found = this.lines.slice(from).find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      this.waiters.push({ pred, resolve, from });
      void this.exited.then(({ code, signal }) =>
        reject(new Error(`process exited (${code ?? signal}) before the expected line; stderr: ${this.stderr.slice(-2000)}; stdout: ${JSON.stringify(this.lines.slice(-5))}`)),
      );
    });
  }
}

/** A private network namespace with loopback up, held open by a sleeping process. */
export class NetNamespace {
  private constructor(
    private readonly holder: ChildProcess,
    readonly path: string,
  ) {}

  static async create(options: { unprivilegedPortStart?: number } = {}): Promise<NetNamespace> {
    const sysctl =
      options.unprivilegedPortStart !== undefined
        ? `echo ${Number(options.unprivilegedPortStart)} > /proc/sys/net/ipv4/ip_unprivileged_port_start && `
        : '';
    const holder = spawn('unshare', ['--net', '--', 'sh', '-c', `ip link set lo up && ${sysctl}echo '{"ready":true}' && exec sleep infinity`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new JsonLines(holder).next((line) => line.ready === true);
    return new NetNamespace(holder, `/proc/${holder.pid}/ns/net`);
  }

  /** `argv` run inside this namespace (nsenter execs it: the pid is the program's). */
  wrap(argv: readonly string[]): string[] {
    return ['nsenter', `--net=${this.path}`, '--', ...argv];
  }

  /** Runs `argv` inside as root (e.g. `ip addr add ...`: the addresses are this namespace's own). */
  run(...argv: string[]): void {
    execFileSync('nsenter', [`--net=${this.path}`, '--', ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  /** A /proc/sys value as seen from inside (sysctls under net/ are per namespace). */
  sysctl(name: string): string {
    return execFileSync('nsenter', [`--net=${this.path}`, '--', 'cat', `/proc/sys/${name}`], { encoding: 'utf8' }).trim();
  }

  async close(): Promise<void> {
    if (this.holder.exitCode === null && this.holder.signalCode === null) {
      const exited = new Promise((resolve) => this.holder.once('exit', resolve));
      this.holder.kill('SIGKILL');
      await exited;
    }
  }
}

/** setpriv as in test/support/processes.ts: every privilege dropped. */
function asUser(user: TestUser, argv: readonly string[]): string[] {
  return ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--inh-caps=-all', '--', ...argv];
}

function fixture(name: string): string {
  return join(inject('fixturesDir'), `${name}.js`);
}

/**
 * Spawns a bundled fixture (optionally as `user`, optionally inside `ns`), stdout as JSON lines.
 * With `home` too, `user`'s own session environment (test/support/user-home.ts): their paths, not root's.
 */
export function spawnFixture(name: string, args: readonly string[], where: { user?: TestUser; home?: string; ns?: NetNamespace; stdin?: boolean } = {}): JsonLines {
  let argv = [process.execPath, fixture(name), ...args];
  if (where.user && where.home !== undefined) argv = [...asUserPrefix(where.user, where.home), ...argv];
  else if (where.user) argv = asUser(where.user, argv);
  if (where.ns) argv = where.ns.wrap(argv);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: [where.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], cwd: '/' });
  return new JsonLines(child);
}

export interface HttpResult {
  status?: number;
  body?: string;
  error?: string;
}

/** One GET, from this process or from inside `ns`. */
export async function httpGet(url: string, ns?: NetNamespace): Promise<HttpResult> {
  if (ns) {
    const get = spawnFixture('ports-http', ['get', url], { ns });
    return (await get.next(() => true)) as HttpResult;
  }
  return new Promise((resolve) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
  });
}

/** An HTTP target ("target ADDR:PORT") inside `ns`; stop() ends it. */
export async function serveTarget(ns: NetNamespace, address: string, port = 0): Promise<{ port: number; stop(): Promise<void> }> {
  const server = spawnFixture('ports-http', ['serve', address, String(port)], { ns });
  const ready = await server.next((line) => line.ready === true);
  return {
    port: ready.port as number,
    stop: async () => {
      server.child.kill('SIGTERM');
      await server.exited;
    },
  };
}

/** The real helper, as root, inside `ns` (it binds in its own namespace), on a socket in `dir`. */
export interface NsHelper {
  readonly socketPath: string;
  readonly dir: string;
  readonly child: ChildProcess;
  auditEntries(): Array<Record<string, unknown>>;
  /** SIGKILL: a crash, the socket file left behind. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * For a describe block: a network namespace of its own, with the real helper
 * serving `uid` inside it, made before the block's tests and gone after them.
 */
export function helperInNamespace(uid: number): { readonly ns: NetNamespace; readonly helper: NsHelper } {
  let ns: NetNamespace | undefined;
  let helper: NsHelper | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    ns = await NetNamespace.create(); // port 80 of its own; ip_unprivileged_port_start is the default 1024 there
    dir = helperDir();
    helper = await startHelperIn(ns, uid, dir);
  });
  afterAll(async () => {
    await helper?.stop();
    await ns?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  const made = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is made in beforeAll: use it inside a test`);
    return value;
  };
  return {
    get ns() {
      return made(ns, 'the namespace');
    },
    get helper() {
      return made(helper, 'the helper');
    },
  };
}

/** A root-owned 0755 directory for a helper's socket and audit log, kept across helper restarts. */
export function helperDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ports-helper-'));
  chmodSync(dir, 0o755);
  return dir;
}

export async function startHelperIn(ns: NetNamespace | undefined, allowUid: number, dir: string): Promise<NsHelper> {
  const socketPath = join(dir, 'helper.sock');
  const auditLogPath = join(dir, 'audit.log');
  let argv = [process.execPath, join(REPO_ROOT, 'dist/helper/berth-helper.js'), 'serve', '--socket', socketPath, '--allow-uid', String(allowUid), '--audit-log', auditLogPath];
  // A backend through this helper carries out its settings (hosts entries, CLI links, reconcile.ts):
  // they land in scratch copies, never in this machine's /etc/hosts, /usr/local/bin or /var/lib/berth.
  argv = withPrivateSystemPaths([...argv, ...scratchStateArgs()]);
  if (ns) argv = ns.wrap(argv);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      if (/^berth-helper \S+: serving on /m.test(stderr)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`helper exited with ${code} before listening: ${stderr}`)));
  });
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    socketPath,
    dir,
    child,
    auditEntries: () =>
      existsSync(auditLogPath)
        ? readFileSync(auditLogPath, 'utf8')
            .split('\n')
            .filter((l) => l.length > 0)
            .map((l) => JSON.parse(l) as Record<string, unknown>)
        : [],
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
  };
}

/** A PortPublisher in a fixture process (as `user`, in `ns`), driven over stdin. */
export class PublisherFixture {
  private nextId = 1;

  private constructor(readonly out: JsonLines) {}

  static start(user: TestUser, ns?: NetNamespace): PublisherFixture {
    return new PublisherFixture(spawnFixture('ports-publisher', [], { user, ...(ns ? { ns } : {}), stdin: true }));
  }

  get pid(): number {
    return this.out.child.pid!;
  }

  async call(cmd: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    this.out.child.stdin!.write(JSON.stringify({ id, cmd, ...args }) + '\n');
    return this.out.next((line) => line.id === id);
  }

  /** The first change event (already printed or still to come) whose list matches. */
  async changed(pred: (list: MappingStatus[]) => boolean): Promise<MappingStatus[]> {
    const line = await this.out.next((l) => l.event === 'change' && pred(l.list as MappingStatus[]));
    return line.list as MappingStatus[];
  }

  /** Index of the next line: for waiting only on what happens after now. */
  get mark(): number {
    return this.out.lines.length;
  }

  async changedAfter(mark: number, pred: (list: MappingStatus[]) => boolean): Promise<MappingStatus[]> {
    const line = await this.out.next((l) => l.event === 'change' && pred(l.list as MappingStatus[]), mark);
    return line.list as MappingStatus[];
  }

  /** Closes stdin: the fixture closes its publisher and exits. */
  async stop(): Promise<void> {
    this.out.child.stdin!.end();
    await this.out.exited;
  }
}

/** A user-owned 0700 scratch directory (for mappings.json), like a home directory; remove() when done. */
export function userScratch(user: TestUser): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ports-user-'));
  chmodSync(dir, 0o700);
  chownSync(dir, user.uid, user.gid);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A listening socket on a free port of `host` (≥ 1024, outside the ephemeral
 * range), bound here and now: no window between finding a port and binding it.
 */
export function listeningFd(host = '127.0.0.1', backlog = 511): { fd: number; port: number } {
  for (let attempt = 0; ; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    try {
      return { fd: bindSocket(host, port, 'tcp', backlog), port };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt > 100) throw error;
    }
  }
}

/** A bound UDP socket on a free port of `host` (as listeningFd, for UDP mappings). */
export function boundUdpFd(host = '127.0.0.1'): { fd: number; port: number } {
  for (let attempt = 0; ; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    try {
      return { fd: bindSocket(host, port, 'udp', 1), port };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt > 100) throw error;
    }
  }
}

/** A UDP port nothing is bound to right now. */
export function unusedUdpPort(host = '127.0.0.1'): number {
  const { fd, port } = boundUdpFd(host);
  closeSync(fd);
  return port;
}

/** A port nothing listens on right now (for "target down"): bound, then closed. */
export function unusedPort(host = '127.0.0.1'): number {
  const { fd, port } = listeningFd(host);
  closeSync(fd);
  return port;
}

/** Can `port` of `address` be bound (TCP) right now? Proves a removed or refused mapping holds nothing. */
export function portIsFree(address: string, port: number): boolean {
  try {
    closeSync(bindSocket(address, port, 'tcp', 1));
    return true;
  } catch {
    return false;
  }
}

/** Writes `specs` as the user's saved mappings (config/mappings.json under `dir`, owned by `user`), as a previous run left them. */
export function writeSavedMappings(dir: string, user: TestUser, specs: readonly MappingSpec[]): string {
  const config = join(dir, 'config');
  mkdirSync(config, { mode: 0o700, recursive: true });
  const file = join(config, 'mappings.json');
  writeFileSync(file, JSON.stringify({ version: 1, mappings: specs }), { mode: 0o600 });
  chownSync(config, user.uid, user.gid);
  chownSync(file, user.uid, user.gid);
  return file;
}

/** The netlink sockets process `pid` holds (its address watch, if open), by matching its fds' inodes in its namespace's table. */
export function netlinkSocketCount(pid: number): number {
  const inodes = new Set(
    readFileSync(`/proc/${pid}/net/netlink`, 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/)[9])
      .filter((inode): inode is string => inode !== undefined && inode !== ''),
  );
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      if (inode !== undefined && inodes.has(inode)) count++;
    } catch {
      // closed while we looked
    }
  }
  return count;
}
