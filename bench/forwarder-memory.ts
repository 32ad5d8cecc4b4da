// The forwarding benchmark's memory figures: what the forwarding process
// holds after a burst of traffic (against what it held idle before), and
// what each idle connection through it costs. Read from /proc (RSS, PSS),
// and for `berth app` its heap through `app.metrics` too.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BerthApp } from './berth-system';
import { iperf3, memory, openSockets } from './forwarder-tools';

interface Forwarding {
  key: string;
  label: string;
  pids(): number[];
}

export interface Burst {
  key: string;
  label: string;
  gb: number;
  gbPerS: number;
  rssKb: { idle: number; peak: number; after: number };
  heapUsedKb: { idle: number; after: number };
  /** The app's event-loop delay during the burst (ms), as it forwarded at full speed. */
  loopP99Ms: number;
  loopMaxMs: number;
  /** How long after the burst `after` was read. */
  afterS: number;
}

/** How long the process may settle after the burst before its memory is read again (V8's memory reducer runs ~8 s after activity). */
const AFTER_BURST_S = 10;

/** `gb` GiB through the mapping on `port` (iperf3 -n), RSS sampled meanwhile; memory idle before and 10 s after. */
export async function burst(row: Forwarding, app: BerthApp, port: number, gb: number): Promise<Burst> {
  const idle = await app.metrics(true);
  const rssIdle = memory(row.pids()).rssKb;
  let peak = rssIdle;
  const sampler = setInterval(() => (peak = Math.max(peak, memory(row.pids()).rssKb)), 250);
  let gbPerS: number;
  try {
    gbPerS = await iperf3(port, 0, `${gb}G`);
  } finally {
    clearInterval(sampler);
  }
  const during = await app.metrics();
  await sleep(AFTER_BURST_S * 1000);
  const after = await app.metrics();
  return {
    key: row.key,
    label: row.label,
    gb,
    gbPerS,
    rssKb: { idle: rssIdle, peak, after: memory(row.pids()).rssKb },
    heapUsedKb: { idle: idle.memory.heapUsedBytes / 1024, after: after.memory.heapUsedBytes / 1024 },
    loopP99Ms: during.loopDelay?.p99Ms ?? NaN,
    loopMaxMs: during.loopDelay?.maxMs ?? NaN,
    afterS: AFTER_BURST_S,
  };
}

export interface IdleMemory {
  key: string;
  label: string;
  connections: number;
  /** Connections that reached the target (two sockets in the forwarder each). */
  reached: number;
  processes: number;
  before: { rssKb: number; pssKb: number };
  with: { rssKb: number; pssKb: number };
  after: { rssKb: number; pssKb: number };
  heapUsedKb?: { before: number; with: number };
}

/** The forwarder's memory idle, with `count` open idle connections through it to nginx, and once they are closed. */
export async function idleConnections(row: Forwarding, port: number, count: number, app?: BerthApp): Promise<IdleMemory> {
  const baseSockets = openSockets(row.pids());
  const before = memory(row.pids());
  const heapBefore = app ? (await app.metrics()).memory.heapUsedBytes / 1024 : undefined;
  const clients: net.Socket[] = [];
  try {
    for (let i = 0; i < count; i += 100) {
      const batch = await Promise.all(
        Array.from(
          { length: Math.min(100, count - i) },
          () =>
            new Promise<net.Socket>((resolve, reject) => {
              const s = net.connect(port, '127.0.0.1', () => resolve(s));
              s.once('error', reject);
            }),
        ),
      );
      clients.push(...batch);
    }
    let reached = 0;
    for (let i = 0; i < 300 && reached < 2 * count; i++) {
      reached = openSockets(row.pids()) - baseSockets;
      if (reached < 2 * count) await sleep(100);
    }
    await sleep(1000);
    const pids = row.pids();
    const withConnections = memory(pids);
    const heapWith = app ? (await app.metrics()).memory.heapUsedBytes / 1024 : undefined;
    for (const s of clients.splice(0)) s.destroy();
    for (let i = 0; i < 100 && openSockets(row.pids()) > baseSockets; i++) await sleep(100);
    await sleep(1000);
    return {
      key: row.key,
      label: row.label,
      connections: count,
      // socat's forks each hold more sockets than the pair (the inherited listener): no more than were opened reached.
      reached: Math.min(count, Math.floor(reached / 2)),
      processes: pids.length,
      before,
      with: withConnections,
      after: memory(row.pids()),
      heapUsedKb: heapBefore === undefined || heapWith === undefined ? undefined : { before: heapBefore, with: heapWith },
    };
  } finally {
    for (const s of clients) s.destroy();
  }
}
