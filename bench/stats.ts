/** Percentile of a sorted array of numbers (nearest-rank). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarize(samplesNs: number[]): { p50: number; p99: number; count: number } {
  const ms = samplesNs.map((n) => n / 1e6).sort((a, b) => a - b);
  return { p50: percentile(ms, 50), p99: percentile(ms, 99), count: ms.length };
}
