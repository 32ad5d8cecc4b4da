// Round trip of the helper's `hello` and `bindPort` (fd received and
// listening), p50 and p99, with 1 and 50 concurrent clients, side by side with
// the peers in one run: socat echoing the same frames over a UNIX socket, and
// a bare Node echo server (the floor of any framed UNIX-socket exchange).
// Then the helper idle: CPU time and wake-ups over 10 s, and its RSS.
// Run as root: `npm run bench`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HelperClient } from '../main/helper-client';
import { encodeFrame, FrameDecoder } from '../common/protocol';
import { summarize } from './stats';

const DURATION_MS = Number(process.env.BENCH_MS ?? 3000);
const HELLO = { id: 1, op: 'hello', args: { protocol: [1, 1], client: 'bench' } };

type Exchange = () => Promise<void>;

/**
 * Runs `clients` connections for DURATION_MS and returns per-request latencies.
 * `paceMs` undefined: closed loops, each client sends its next request as soon
 * as the last is answered (saturation: latency is then mostly queueing).
 * `paceMs` set: each client sends one request every paceMs (a busy app, not a flood).
 */
async function measure(
  makeClient: (index: number) => Promise<{ exchange: Exchange; close(): void }>,
  clients: number,
  paceMs?: number,
) {
  const all: Array<{ exchange: Exchange; close(): void }> = [];
  for (let i = 0; i < clients; i++) all.push(await makeClient(i));
  for (const c of all) for (let i = 0; i < 20; i++) await c.exchange(); // warm-up
  const samples: number[] = [];
  const end = Date.now() + DURATION_MS;
  await Promise.all(
    all.map(async (c, i) => {
      if (paceMs !== undefined) await sleep((paceMs * i) / clients); // spread the clients out
      while (Date.now() < end) {
        const t0 = process.hrtime.bigint();
        await c.exchange();
        const took = Number(process.hrtime.bigint() - t0);
        samples.push(took);
        if (paceMs !== undefined) await sleep(Math.max(0, paceMs - took / 1e6));
      }
    }),
  );
  for (const c of all) c.close();
  const summary = summarize(samples);
  return { ...summary, rate: Math.round(summary.count / (DURATION_MS / 1000)) };
}

/** A framed request/reply over a plain Node socket, for the echo peers. */
async function framedClient(path: string) {
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect(path, () => resolve(s));
    s.once('error', reject);
  });
  const decoder = new FrameDecoder();
  let waiting: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    if (decoder.push(chunk).length > 0) waiting?.();
  });
  const frame = encodeFrame(HELLO);
  return {
    exchange: () =>
      new Promise<void>((resolve) => {
        waiting = resolve;
        socket.write(frame);
      }),
    close: () => socket.destroy(),
  };
}

function nodeEcho(path: string): Promise<Server> {
  const server = createServer((s) => s.pipe(s));
  return new Promise((resolve) => server.listen(path, () => resolve(server)));
}

async function socatEcho(path: string): Promise<ChildProcess | undefined> {
  if (spawnSync('socat', ['-V'], { stdio: 'ignore' }).status !== 0) return undefined;
  const child = spawn('socat', [`UNIX-LISTEN:${path},fork,mode=600,backlog=256`, 'EXEC:cat'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      readFileSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return child; // ENXIO: a socket is there
    }
    await sleep(20);
  }
  return child;
}

async function startHelper(dir: string): Promise<ChildProcess> {
  const helper = spawn(
    process.execPath,
    [join(__dirname, '../helper/berth-helper.js'), 'serve', '--socket', join(dir, 'helper.sock'), '--allow-uid', '65534', '--max-connections', '128'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    helper.stderr!.on('data', (c: Buffer) => c.toString().includes(': serving on') && resolve());
    helper.once('exit', () => reject(new Error('helper exited')));
  });
  return helper;
}

function procStat(pid: number) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  let wakeups = 0;
  for (const tid of spawnSync('ls', [`/proc/${pid}/task`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) {
    const t = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    wakeups += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(t)?.[1] ?? 0);
    wakeups += Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(t)?.[1] ?? 0);
  }
  return { cpuTicks: Number(stat[11]) + Number(stat[12]), rssKb: field('VmRSS'), wakeups };
}

const fmt = (n: number) => n.toFixed(3);

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: the helper runs as root');
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-'));
  chmodSync(dir, 0o755);
  const helper = await startHelper(dir);
  const echo = await nodeEcho(join(dir, 'echo.sock'));
  const socat = await socatEcho(join(dir, 'socat.sock'));
  const rows: string[] = [];
  const row = (what: string, load: string, r: { p50: number; p99: number; rate: number }) => {
    rows.push(`| ${what} | ${load} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.rate} |`);
    console.error(`bench: ${what}, ${load}: p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms, ${r.rate} req/s`);
  };
  const helloClient = async () => {
    const c = await HelperClient.connect(join(dir, 'helper.sock'));
    return { exchange: async () => void (await c.request('hello', { protocol: [1, 1], client: 'bench' })), close: () => c.close() };
  };
  const bindClient = async (i: number) => {
    // The helper binds only what its caller cannot (root gets NOT_NEEDED): connect as the allowed
    // user (uid 65534, an effective uid is what the peer check sees) and ask for ports below 1024.
    process.seteuid!(65534);
    const c = await HelperClient.connect(join(dir, 'helper.sock')).finally(() => process.seteuid!(0));
    const port = 900 + i;
    return {
      exchange: async () => {
        const bound = await c.bindPort({ address: '127.0.0.1', port, protocol: 'tcp' });
        const server = createServer();
        await new Promise<void>((resolve) => server.listen({ fd: bound.fd }, () => resolve()));
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
      close: () => c.close(),
    };
  };
  const peers: Array<[string, () => Promise<{ exchange: Exchange; close(): void }>]> = [
    ...(socat ? [['socat echo, same frames', () => framedClient(join(dir, 'socat.sock'))] as [string, () => ReturnType<typeof framedClient>]] : []),
    ['Node echo, direct, same frames', () => framedClient(join(dir, 'echo.sock'))],
  ];
  const loads: Array<[string, number, number | undefined]> = [
    ['1 client, back to back', 1, undefined],
    ['1 client, back to back, 49 more connected', 1, undefined],
    ['50 clients, each every 20 ms', 50, 20],
    ['50 clients, back to back (saturated)', 50, undefined],
  ];
  for (const [load, clients, pace] of loads) {
    // Connected but silent clients: what the helper carries while it serves one.
    const idle = load.includes('49 more') ? await Promise.all(Array.from({ length: 49 }, () => helloClient())) : [];
    row('berth helper `hello`', load, await measure(helloClient, clients, pace));
    for (const c of idle) c.close();
    if (idle.length > 0) continue;
    row('berth helper `bindPort` (fd received, listening)', load, await measure(bindClient, clients, pace));
    for (const [name, make] of peers) row(name, load, await measure(make, clients, pace));
  }

  await sleep(1000);
  const before = procStat(helper.pid!);
  await sleep(10_000);
  const after = procStat(helper.pid!);

  console.log(`| path | load | p50 ms | p99 ms | req/s |`);
  console.log(`| --- | --- | --- | --- | --- |`);
  for (const r of rows) console.log(r);
  console.log('');
  console.log(`Helper idle for 10 s after the run: CPU ${(after.cpuTicks - before.cpuTicks) * 10} ms, ` +
    `context switches (wake-ups, all threads) ${after.wakeups - before.wakeups}, RSS ${(after.rssKb / 1024).toFixed(1)} MiB.`);
  if (!socat) console.log('(socat is not installed: `apt-get install socat` for the socat row)');

  helper.kill('SIGTERM');
  socat?.kill('SIGTERM');
  echo.close();
  await sleep(200);
  rmSync(dir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(`bench: ${(error as Error).message}`);
  process.exitCode = 1;
});
