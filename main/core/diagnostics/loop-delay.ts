import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import type { RuntimeMetrics } from '../../../common/api/backend-api';

/**
 * How responsive the backend's event loop is, and what the process holds in
 * memory: read through the API (`app.metrics`) by the port-forwarding
 * benchmark (bench/forwarder.ts), which holds the backend to an event-loop
 * delay target while a mapping forwards at full speed.
 *
 * Memory is read on request only (process.memoryUsage(), no cost in
 * between). The event-loop delay needs a timer that wakes the loop every few
 * milliseconds, so it runs only when BERTH_LOOP_DELAY=1 is set in the
 * backend's environment: an app that idles must not wake up 200 times a
 * second. The loop is one per process, so is the monitor.
 */

/** How often the monitor's timer fires while it runs (ms): finer than the 10 ms the benchmark holds the p99 to. */
export const LOOP_DELAY_RESOLUTION_MS = 5;

let monitor: { histogram: ELDHistogram; since: number } | undefined;

/** Starts the monitor when `env` asks for it (BERTH_LOOP_DELAY=1); true if it runs. Idempotent. */
export function startLoopDelayMonitor(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.BERTH_LOOP_DELAY !== '1') return monitor !== undefined;
  if (monitor === undefined) {
    const histogram = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
    histogram.enable();
    monitor = { histogram, since: Date.now() };
  }
  return true;
}

export function stopLoopDelayMonitor(): void {
  monitor?.histogram.disable();
  monitor = undefined;
}

/**
 * Node's histogram holds how long each turn of the monitor's timer took, in
 * ns, the timer's own interval included: the delay is what exceeds it.
 */
function delayMs(ns: number): number {
  return Math.max(0, ns / 1e6 - LOOP_DELAY_RESOLUTION_MS);
}

/** The process's figures now; with `reset`, the delay histogram starts afresh after this reading. */
export function runtimeMetrics(reset = false): RuntimeMetrics {
  const memory = process.memoryUsage();
  let loopDelay: RuntimeMetrics['loopDelay'] = null;
  if (monitor !== undefined) {
    const { histogram, since } = monitor;
    // An empty histogram reports its extremes as NaN/huge numbers: zeros say "nothing measured yet" with count 0.
    const empty = histogram.count === 0;
    loopDelay = {
      resolutionMs: LOOP_DELAY_RESOLUTION_MS,
      samples: histogram.count,
      sinceMs: Date.now() - since,
      p50Ms: empty ? 0 : delayMs(histogram.percentile(50)),
      p99Ms: empty ? 0 : delayMs(histogram.percentile(99)),
      maxMs: empty ? 0 : delayMs(histogram.max),
    };
    if (reset) {
      histogram.reset();
      monitor.since = Date.now();
    }
  }
  return {
    loopDelay,
    memory: {
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      heapTotalBytes: memory.heapTotal,
      externalBytes: memory.external,
      arrayBuffersBytes: memory.arrayBuffers,
    },
  };
}
