/**
 * What keeps the helper up: each open client connection and each request
 * being handled holds it (a request outlives its connection when the client
 * hangs up mid-trace, so the two are counted apart). The helper may exit
 * for idleness only when nothing is held.
 */
export class Activity {
  private held = 0;
  private readonly drainWaiters: Array<() => void> = [];
  private idle: { ms: number; onIdle: () => void; timer: NodeJS.Timeout | undefined } | undefined;

  /** Marks something as in progress; the returned release may be called more than once. */
  hold(): () => void {
    this.held++;
    this.disarm();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held--;
      if (this.held > 0) return;
      for (const wake of this.drainWaiters.splice(0)) wake();
      this.arm();
    };
  }

  get busy(): boolean {
    return this.held > 0;
  }

  /** Resolves once nothing is held (at once if nothing is). */
  drained(): Promise<void> {
    if (this.held === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Calls `onIdle` once nothing has been held for `ms` (every new hold restarts the wait). Once only. */
  whenIdleFor(ms: number, onIdle: () => void): void {
    this.idle = { ms, onIdle, timer: undefined };
    this.arm();
  }

  /** No idle call from now on. */
  stop(): void {
    this.disarm();
    this.idle = undefined;
  }

  private arm(): void {
    const idle = this.idle;
    if (idle === undefined || this.held > 0 || idle.timer !== undefined) return;
    idle.timer = setTimeout(() => {
      idle.timer = undefined;
      if (this.idle !== idle || this.held > 0) return;
      this.idle = undefined;
      idle.onIdle();
    }, idle.ms);
  }

  private disarm(): void {
    if (this.idle?.timer === undefined) return;
    clearTimeout(this.idle.timer);
    this.idle.timer = undefined;
  }
}
