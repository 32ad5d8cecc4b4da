import type { PortForwarder } from './serve';

/**
 * Connection activity, reported at most every `intervalMs`: while
 * connections are open the counters are re-read on that same beat and
 * reported only when they moved. Never per chunk.
 */

export interface CountedMapping {
  readonly id: string;
  readonly forwarder: PortForwarder | undefined;
}

export class StatsBeat {
  private timer: NodeJS.Timeout | undefined;
  private last = '';
  private stopped = false;

  /** `mappings()` returns undefined while reports must wait (the publisher is still opening). */
  constructor(
    private readonly intervalMs: number,
    private readonly mappings: () => Iterable<CountedMapping> | undefined,
    private readonly report: () => void,
  ) {}

  /** A connection opened or closed: report on the next beat. */
  activity(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const mappings = this.mappings();
    if (mappings === undefined) {
      this.activity(); // report once the list can be read
      return;
    }
    let active = 0;
    let signature = '';
    for (const { id, forwarder } of mappings) {
      const stats = forwarder?.stats();
      if (!stats) continue;
      active += stats.active;
      signature += `${id} ${stats.total} ${stats.failed} ${stats.active} ${stats.bytesIn} ${stats.bytesOut};`;
    }
    if (signature !== this.last) {
      this.last = signature;
      this.report();
    }
    if (active > 0) this.activity();
  }
}
