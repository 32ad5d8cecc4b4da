// The forwarding benchmark's report: the Markdown docs/BENCHMARKS.md quotes
// (the machine, medians, ratios to the peers, the targets of issue 15, every
// round side by side, the commands) and the same results as JSON.
// Measuring is bench/forwarder.ts's.
import { commandsUsed } from './forwarder-tools';
import type { Burst, IdleMemory } from './forwarder-memory';

export type Figure = 'iperf3' | 'download' | 'kaRps' | 'kaP99' | 'closeRps' | 'closeP99' | 'udpRps' | 'udpP50' | 'udpP99';
export const FIGURES: Figure[] = ['iperf3', 'download', 'kaRps', 'kaP99', 'closeRps', 'closeP99', 'udpRps', 'udpP50', 'udpP99'];
const HEADS: Record<Figure, string> = {
  iperf3: 'iperf3 GB/s',
  download: 'HTTP download GB/s',
  kaRps: 'keep-alive req/s',
  kaP99: 'keep-alive p99 ms',
  closeRps: '`Connection: close` req/s',
  closeP99: '`Connection: close` p99 ms',
  udpRps: 'UDP req/s',
  udpP50: 'UDP p50 ms',
  udpP99: 'UDP p99 ms',
};
/** The figures with CPU and loop-delay readings (one load each). */
const LOADS: Figure[] = ['iperf3', 'download', 'kaRps', 'closeRps', 'udpRps'];
const lowerIsBetter = (f: Figure): boolean => /P\d+$/.test(f);

export interface BenchPath {
  key: string;
  label: string;
}

const median = (values: number[]): number => {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

type Series = Map<string, Map<Figure, number[]>>;
function push(series: Series, path: string, figure: Figure, value: number): void {
  const byFigure = series.get(path) ?? new Map<Figure, number[]>();
  series.set(path, byFigure);
  byFigure.set(figure, [...(byFigure.get(figure) ?? []), value]);
}
const plain = (series: Series): Record<string, Record<string, number[]>> =>
  Object.fromEntries([...series].map(([path, byFigure]) => [path, Object.fromEntries(byFigure)]));

export class Results {
  readonly figures: Series = new Map();
  readonly cpu: Series = new Map();
  readonly loop: Series = new Map();
  readonly notes: string[] = [];
  add(path: string, figure: Figure, value: number): void {
    push(this.figures, path, figure, value);
  }
  addCpu(path: string, figure: Figure, value: number): void {
    push(this.cpu, path, figure, value);
  }
  addLoop(path: string, figure: Figure, value: number): void {
    push(this.loop, path, figure, value);
  }
  get(path: string, figure: Figure, series: Series = this.figures): number {
    return median(series.get(path)?.get(figure) ?? []);
  }
  all(path: string, figure: Figure): number[] {
    return this.figures.get(path)?.get(figure) ?? [];
  }
}

export interface RunSummary {
  startedAt: Date;
  machine: string;
  versions: string[];
  options: Record<string, unknown>;
  loadBefore: string;
  loadAfter: string;
  roundLoads: string[];
  paths: BenchPath[];
  results: Results;
  bursts: Burst[];
  idle: IdleMemory[];
  udpAvailable: boolean;
  knowsDataPlane: boolean;
}

const fix = (n: number, digits: number): string => (Number.isNaN(n) ? '—' : n.toFixed(digits));
const int = (n: number): string => (Number.isNaN(n) ? '—' : Math.round(n).toLocaleString('en-US'));
const mib = (kb: number): string => (kb / 1024).toFixed(1);
const cell = (f: Figure, v: number): string => (f.endsWith('Rps') ? int(v) : fix(v, f.startsWith('udpP') ? 3 : 2));
const times = (n: number): string => (Number.isNaN(n) ? '—' : `${n.toFixed(2)}×`);
const verdict = (ok: boolean): string => (ok ? 'met' : '**not met**');
const UDP_NA = 'n/a (UDP mappings not available in this build)';

interface Target {
  target: string;
  path: string;
  measured: string;
  met: boolean | null;
}

function targets(run: RunSummary): Target[] {
  const r = run.results;
  const out: Target[] = [];
  const has = (key: string): boolean => r.figures.has(key);
  const add = (target: string, path: string, measured: string, met: boolean | null): void => void out.push({ target, path, measured, met });
  for (const { key } of run.paths.filter((p) => p.key.startsWith('berth'))) {
    const v = (f: Figure): number => r.get(key, f);
    if (has('direct')) {
      const d = (f: Figure): number => r.get('direct', f);
      for (const [f, min] of [
        ['iperf3', 0.8],
        ['download', 0.8],
        ['kaRps', 0.5],
        ['closeRps', 0.3],
      ] as Array<[Figure, number]>) {
        add(`${HEADS[f]} ≥ ${min}× direct`, key, `${fix(v(f) / d(f), 2)}× (${cell(f, v(f))} vs ${cell(f, d(f))})`, v(f) / d(f) >= min);
      }
      add('keep-alive p99 ≤ 1.2× direct', key, `${fix(v('kaP99') / d('kaP99'), 2)}× (${fix(v('kaP99'), 2)} vs ${fix(d('kaP99'), 2)} ms)`, v('kaP99') <= 1.2 * d('kaP99'));
    }
    if (has('socat')) {
      const s = (f: Figure): number => r.get('socat', f);
      for (const f of ['iperf3', 'download', 'kaRps', 'kaP99', 'closeRps', 'closeP99'] as Figure[]) {
        const ok = lowerIsBetter(f) ? v(f) <= s(f) : v(f) >= s(f);
        add(`${HEADS[f]} ${lowerIsBetter(f) ? '≤' : '≥'} socat`, key, `${cell(f, v(f))} vs ${cell(f, s(f))}`, ok);
      }
    }
    const loop = r.get(key, 'iperf3', r.loop);
    add("the app's event-loop delay p99 ≤ 10 ms while it forwards at full speed (iperf3)", key, `${fix(loop, 2)} ms`, loop <= 10);
    if (run.udpAvailable && has('direct')) {
      add('UDP p50 / p99 through the mapping (written down)', key, `${cell('udpP50', v('udpP50'))} / ${cell('udpP99', v('udpP99'))} ms vs direct ${cell('udpP50', r.get('direct', 'udpP50'))} / ${cell('udpP99', r.get('direct', 'udpP99'))} ms`, null);
    }
  }
  for (const b of run.bursts) {
    add("the app's event-loop delay p99 ≤ 10 ms during the burst", b.key, `${fix(b.loopP99Ms, 2)} ms (max ${fix(b.loopMaxMs, 1)} ms)`, b.loopP99Ms <= 10);
    const grew = (b.rssKb.after - b.rssKb.idle) / 1024;
    add(`memory ${b.afterS} s after a ${b.gb} GiB burst within 10 MiB of idle (RSS)`, b.key, `${grew >= 0 ? '+' : ''}${grew.toFixed(1)} MiB (${mib(b.rssKb.idle)} → peak ${mib(b.rssKb.peak)} → ${mib(b.rssKb.after)} MiB)`, grew <= 10);
  }
  for (const m of run.idle.filter((i) => i.key.startsWith('berth'))) {
    const each = (m.with.pssKb - m.before.pssKb) / m.connections;
    add(`${m.connections.toLocaleString('en-US')} idle connections ≤ 8 KiB each (PSS)`, m.key, `${each.toFixed(1)} KiB${m.reached < m.connections ? ` (only ${m.reached} reached the target)` : ''}`, each <= 8 && m.reached === m.connections);
  }
  if (has('run') && has('direct')) {
    for (const f of ['download', 'kaRps', 'kaP99', 'closeRps', 'closeP99'] as Figure[]) {
      const ratio = lowerIsBetter(f) ? r.get('direct', f) / r.get('run', f) : r.get('run', f) / r.get('direct', f);
      add(`\`berth run\` ≥ 0.95× direct: ${HEADS[f]}${lowerIsBetter(f) ? ' (direct ÷ run)' : ''}`, 'run', `${fix(ratio, 2)}×`, ratio >= 0.95);
    }
  }
  return out;
}

/** The whole report: Markdown for people and docs/BENCHMARKS.md, and the same as JSON. */
export function report(run: RunSummary): { markdown: string; json: unknown } {
  const out: string[] = [];
  const p = (line = ''): void => void out.push(line);
  const r = run.results;
  const figures = FIGURES.filter((f) => run.udpAvailable || !f.startsWith('udp'));
  const table = (head: string[], rows: string[][]): void => {
    p(`| ${head.join(' | ')} |`);
    p(`| ${head.map(() => '---').join(' | ')} |`);
    for (const row of rows) p(`| ${row.join(' | ')} |`);
  };
  p(`Run of ${run.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC. Machine: ${run.machine}.`);
  p(`Tools: ${run.versions.join('; ')}.`);
  p(`Options: ${JSON.stringify(run.options)}. Each cell is the median over the rounds.`);
  p(`Load average (1, 5, 15 min) before: ${run.loadBefore}, after: ${run.loadAfter}; ${run.roundLoads.join('; ')}.`);
  if (!run.knowsDataPlane && run.paths.some((x) => x.label.includes('BERTH_DATA_PLANE'))) p('This build has no BERTH_DATA_PLANE switch: every plane row ran the same data plane.');
  p();
  table(
    ['path', ...figures.map((f) => HEADS[f])],
    run.paths.map((path) => [
      path.label,
      ...figures.map((f) => (path.key === 'run' && f === 'iperf3' ? 'n/a (iperf3 cannot take an inherited socket)' : cell(f, r.get(path.key, f)))),
    ]),
  );
  if (!run.udpAvailable) {
    p();
    p(`UDP: ${UDP_NA}.`);
  }
  for (const peer of ['direct', 'socat', 'haproxy']) {
    if (!r.figures.has(peer)) continue;
    p();
    p(`Each path ÷ ${peer} (medians; p99 columns: lower is better):`);
    p();
    const cols = figures.filter((f) => r.figures.get(peer)?.has(f));
    table(
      ['path', ...cols.map((f) => HEADS[f])],
      run.paths.filter((x) => x.key !== peer).map((path) => [path.key, ...cols.map((f) => times(r.get(path.key, f) / r.get(peer, f)))]),
    );
  }
  const loads = LOADS.filter((f) => run.udpAvailable || f !== 'udpRps');
  p();
  p("CPU of the forwarding process(es) during each load, % of one core (socat: its listeners and reaped forks; HAProxy: its one process; Berth: `berth app`), and `berth app`'s event-loop delay p99 in ms (medians over rounds):");
  p();
  const loadName = (f: Figure): string => HEADS[f].replace(/ (GB\/s|req\/s)$/, '');
  table(
    ['path', ...loads.map((f) => `CPU ${loadName(f)}`), ...loads.map((f) => `loop p99 ${loadName(f)}`)],
    run.paths
      .filter((x) => x.key !== 'direct')
      .map((path) => [path.key, ...loads.map((f) => fix(r.get(path.key, f, r.cpu), 0)), ...loads.map((f) => fix(r.get(path.key, f, r.loop), 2))]),
  );
  // What a forwarder costs per unit of work: less bent by the neighbours
  // than a rate on 2 cores, where client, target and forwarder compete.
  const perUnit = (key: string, f: Figure): string => {
    const cores = r.get(key, f, r.cpu) / 100;
    return f === 'iperf3' || f === 'download' ? fix(cores / r.get(key, f), 3) : fix((cores / r.get(key, f)) * 1e6, 1);
  };
  p();
  p('The same CPU per unit of work (medians): core-seconds per GB moved, and µs per request:');
  p();
  table(
    ['path', ...loads.map((f) => `${loadName(f)} ${f === 'iperf3' || f === 'download' ? 'core-s/GB' : 'µs/req'}`)],
    run.paths.filter((x) => x.key !== 'direct' && x.key !== 'run').map((path) => [path.key, ...loads.map((f) => perUnit(path.key, f))]),
  );
  if (run.bursts.length > 0) {
    p();
    p("`berth app`'s memory through a burst through a mapping (iperf3 -n), MiB:");
    p();
    table(
      ['path', 'burst', 'GB/s', 'RSS idle', 'RSS peak', 'RSS after', 'after − idle', 'heap used idle → after', 'loop p99 / max during, ms'],
      run.bursts.map((b) => [
        b.key,
        `${b.gb} GiB`,
        fix(b.gbPerS, 2),
        mib(b.rssKb.idle),
        mib(b.rssKb.peak),
        `${mib(b.rssKb.after)} (${b.afterS} s later)`,
        mib(b.rssKb.after - b.rssKb.idle),
        `${mib(b.heapUsedKb.idle)} → ${mib(b.heapUsedKb.after)}`,
        `${fix(b.loopP99Ms, 2)} / ${fix(b.loopMaxMs, 1)}`,
      ]),
    );
  }
  if (run.idle.length > 0) {
    p();
    p('Memory of the forwarding process(es) idle, with open idle connections through it to nginx, and after they closed (MiB; per connection: PSS growth ÷ connections):');
    p();
    table(
      ['path', 'connections (reached)', 'processes', 'RSS idle', 'RSS with', 'RSS after close', 'PSS idle', 'PSS with', 'per connection', 'heap used idle → with'],
      run.idle.map((m) => [
        m.key,
        `${m.connections} (${m.reached})`,
        String(m.processes),
        mib(m.before.rssKb),
        mib(m.with.rssKb),
        mib(m.after.rssKb),
        mib(m.before.pssKb),
        mib(m.with.pssKb),
        `${((m.with.pssKb - m.before.pssKb) / m.connections).toFixed(1)} KiB`,
        m.heapUsedKb ? `${mib(m.heapUsedKb.before)} → ${mib(m.heapUsedKb.with)}` : '—',
      ]),
    );
  }
  const found = targets(run);
  if (found.length > 0) {
    p();
    table(
      ['target (issue 15)', 'path', 'measured (medians)', ''],
      found.map((t) => [t.target, t.path, t.measured, t.met === null ? 'written down' : verdict(t.met)]),
    );
  }
  p();
  p('Every round, side by side (round 1 / round 2 / …; the order rotates each round):');
  p();
  table(
    ['path', ...figures.map((f) => HEADS[f])],
    run.paths.map((path) => [path.key, ...figures.map((f) => r.all(path.key, f).map((v) => cell(f, v)).join(' / ') || '—')]),
  );
  if (r.notes.length > 0) {
    p();
    p('Errors the load tools reported:');
    for (const n of r.notes) p(`- ${n}`);
  }
  p();
  p('Commands (ports and folders as named in this run; `# as berth-test`: run as that user, in its own home):');
  p();
  p('```sh');
  for (const c of commandsUsed) p(c);
  p('```');
  const json = {
    startedAt: run.startedAt.toISOString(),
    machine: run.machine,
    tools: run.versions,
    options: run.options,
    load: { before: run.loadBefore, after: run.loadAfter, rounds: run.roundLoads },
    paths: run.paths,
    udp: run.udpAvailable ? 'measured' : UDP_NA,
    rounds: plain(r.figures),
    cpuPercent: plain(r.cpu),
    loopDelayP99Ms: plain(r.loop),
    medians: Object.fromEntries(run.paths.map((x) => [x.key, Object.fromEntries(figures.map((f) => [f, r.get(x.key, f)]))])),
    bursts: run.bursts,
    idleConnections: run.idle,
    targets: found,
    notes: r.notes,
    commands: commandsUsed,
  };
  return { markdown: out.join('\n'), json };
}
