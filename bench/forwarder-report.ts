// The forwarder benchmark's report: its results as the Markdown that
// docs/BENCHMARKS.md quotes (tables, the targets of issue 5, every round and
// the commands that produced them). Measuring is bench/forwarder.ts's.
import { commandsUsed, load, machine } from './forwarder-tools';

export type Figure = 'iperf3' | 'download' | 'kaRps' | 'kaP99' | 'closeRps' | 'closeP99';
export const FIGURES: Figure[] = ['iperf3', 'download', 'kaRps', 'kaP99', 'closeRps', 'closeP99'];
export type CpuFigure = 'iperf3' | 'download' | 'ka' | 'close';

const median = (values: number[]): number => {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export class Results {
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

export interface IdleMemory {
  label: string;
  before: { rssKb: number; pssKb: number };
  with: { rssKb: number; pssKb: number };
  after: { rssKb: number; pssKb: number };
  processes: number;
  reached: number;
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

export interface RunSummary {
  startedAt: Date;
  versions: string[];
  seconds: number;
  rounds: number;
  loadBefore: string;
  roundLoads: string[];
  paths: Array<{ key: string; label: string }>;
  results: Results;
  idle: IdleMemory[];
  idleConnections: number;
}

/** The whole report, one Markdown string. */
export function report(run: RunSummary): string {
  const out: string[] = [];
  const p = (line = ''): void => void out.push(line);
  p(`Run of ${run.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC. Machine: ${machine()}.`);
  p(`Tools: ${run.versions.join('; ')}.`);
  p(`BENCH_SECONDS=${run.seconds} per figure, ${run.rounds} round(s): each cell is the median over the rounds.`);
  p(`Load average (1, 5, 15 min) before: ${run.loadBefore}, after: ${load()}; ${run.roundLoads.join('; ')}.`);
  p();
  p('| path | iperf3 GB/s | HTTP download GB/s | keep-alive req/s | keep-alive p99 ms | `Connection: close` req/s | `Connection: close` p99 ms |');
  p('| --- | --- | --- | --- | --- | --- | --- |');
  for (const path of run.paths) {
    const g = (f: Figure): number => run.results.get(path.key, f);
    const iperfCell = path.key === 'run' ? 'n/a (iperf3 cannot take an inherited socket)' : fix(g('iperf3'), 2);
    p(`| ${path.label} | ${iperfCell} | ${fix(g('download'), 2)} | ${int(g('kaRps'))} | ${fix(g('kaP99'), 2)} | ${int(g('closeRps'))} | ${fix(g('closeP99'), 2)} |`);
  }
  p();
  p('CPU of the forwarding process(es) during each figure, % of one core (median over rounds; socat: the listener and its reaped forks):');
  p();
  p('| path | iperf3 | HTTP download | keep-alive | `Connection: close` |');
  p('| --- | --- | --- | --- | --- |');
  for (const path of run.paths.filter((x) => ['socat', 'naive', 'berth', 'berth-js'].includes(x.key))) {
    const c = (f: CpuFigure): string => fix(run.results.getCpu(path.key, f), 0);
    p(`| ${path.label} | ${c('iperf3')} | ${c('download')} | ${c('ka')} | ${c('close')} |`);
  }
  if (run.idle.length > 0) {
    p();
    p(`Memory of the forwarding process(es), idle, then with ${run.idleConnections.toLocaleString('en-US')} open idle connections through it to nginx, then after they closed (MiB):`);
    p();
    p('| path | processes | RSS idle | RSS with 1,000 | RSS after close | PSS idle | PSS with 1,000 | per connection (PSS) |');
    p('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const m of run.idle) {
      const reached = m.reached < run.idleConnections ? ` (only ${m.reached} reached the target)` : '';
      const perConnection = ((m.with.pssKb - m.before.pssKb) / run.idleConnections).toFixed(1);
      p(`| ${m.label}${reached} | ${m.processes} | ${mib(m.before.rssKb)} | ${mib(m.with.rssKb)} | ${mib(m.after.rssKb)} | ${mib(m.before.pssKb)} | ${mib(m.with.pssKb)} | ${perConnection} KiB |`);
    }
    p();
    p('RSS counts every shared page once per process (so 1,000 socat forks count libc 1,000 times); PSS divides shared pages among their users.');
  }
  const targetRows = targets(run.results);
  if (targetRows.length > 0) {
    p();
    p('| target (issue 5) | measured (medians) | |');
    p('| --- | --- | --- |');
    for (const r of targetRows) p(r);
  }
  if (run.rounds > 1) {
    p();
    p('Each round (in round order):');
    p();
    p('| path | iperf3 GB/s | download GB/s | keep-alive req/s | keep-alive p99 ms | close req/s | close p99 ms |');
    p('| --- | --- | --- | --- | --- | --- | --- |');
    for (const path of run.paths) {
      const cells = FIGURES.map((f) => run.results.all(path.key, f).map((v) => (f.endsWith('Rps') ? int(v) : fix(v, 2))).join(' / ') || '—');
      p(`| ${path.key} | ${cells.join(' | ')} |`);
    }
  }
  if (run.results.notes.length > 0) {
    p();
    p('wrk reported errors:');
    for (const n of run.results.notes) p(`- ${n}`);
  }
  p();
  p('Commands (ports as used in this run):');
  p();
  p('```sh');
  for (const c of commandsUsed) p(c);
  p('```');
  return out.join('\n');
}
