import { afterEach, describe, expect, test } from 'vitest';
import { runtimeMetrics as runtimeMetricsSchema } from '../../../common/api/backend-api';
import { LOOP_DELAY_RESOLUTION_MS, runtimeMetrics, startLoopDelayMonitor, stopLoopDelayMonitor } from './loop-delay';

/** Keeps the event loop busy for `ms`: nothing else can run meanwhile, so the monitor's timer is that late. */
function blockLoop(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy
  }
}

const turns = (n: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, n * LOOP_DELAY_RESOLUTION_MS * 2));

afterEach(() => stopLoopDelayMonitor());

describe('the backend\'s runtime metrics', () => {
  test('without BERTH_LOOP_DELAY=1 no monitor runs: memory only, and the delay is null', () => {
    expect(startLoopDelayMonitor({})).toBe(false);
    expect(startLoopDelayMonitor({ BERTH_LOOP_DELAY: 'yes' })).toBe(false);
    const metrics = runtimeMetrics();
    expect(runtimeMetricsSchema.parse(metrics)).toEqual(metrics);
    expect(metrics.loopDelay).toBeNull();
    expect(metrics.memory.rssBytes).toBeGreaterThan(metrics.memory.heapUsedBytes);
    expect(metrics.memory.heapUsedBytes).toBeGreaterThan(0);
  });

  test('with BERTH_LOOP_DELAY=1 a blocked loop shows in the delay, without the timer\'s own interval; reset starts afresh', async () => {
    expect(startLoopDelayMonitor({ BERTH_LOOP_DELAY: '1' })).toBe(true);
    // Idempotent: a second start keeps the one monitor.
    expect(startLoopDelayMonitor({})).toBe(true);
    await turns(3);
    blockLoop(80);
    await turns(3);
    const metrics = runtimeMetrics(true);
    expect(runtimeMetricsSchema.parse(metrics)).toEqual(metrics);
    expect(metrics.loopDelay).not.toBeNull();
    // The timer due during the 80 ms block fired at least 80 - 5 ms late, however slow the machine.
    expect(metrics.loopDelay!.maxMs).toBeGreaterThanOrEqual(80 - LOOP_DELAY_RESOLUTION_MS);
    expect(metrics.loopDelay!.samples).toBeGreaterThan(0);
    expect(metrics.loopDelay!.resolutionMs).toBe(LOOP_DELAY_RESOLUTION_MS);
    // After the reset the block is forgotten: nothing recorded yet.
    const afterReset = runtimeMetrics();
    expect(afterReset.loopDelay).toMatchObject({ samples: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 });

    stopLoopDelayMonitor();
    expect(runtimeMetrics().loopDelay).toBeNull();
  });
});
