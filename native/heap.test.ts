import { afterAll, describe, expect, it } from 'vitest';
import { FORWARDING_HEAP_TRIM_THRESHOLD } from '../main/core/ports/forwarder';
import { MAX_HEAP_TRIM_THRESHOLD, setHeapTrimThreshold } from './index';
import { loadBinding } from './loader';

/** Node's diagnostic report names the glibc it runs on; under musl or on macOS it names none. */
const glibc = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
const onGlibc = typeof glibc.header?.glibcVersionRuntime === 'string';

describe('setHeapTrimThreshold', () => {
  // The setting is process-wide: this worker goes back to what a forwarding process uses.
  afterAll(() => setHeapTrimThreshold(FORWARDING_HEAP_TRIM_THRESHOLD));

  it('sets the threshold where the C library is glibc, says false elsewhere', () => {
    expect(setHeapTrimThreshold(FORWARDING_HEAP_TRIM_THRESHOLD)).toBe(onGlibc);
    expect(setHeapTrimThreshold(0)).toBe(onGlibc);
    expect(setHeapTrimThreshold(MAX_HEAP_TRIM_THRESHOLD)).toBe(onGlibc);
  });

  it.each([
    [-1, RangeError, /bytes must be an integer between 0 and 1073741824/],
    [MAX_HEAP_TRIM_THRESHOLD + 1, RangeError, /between 0 and 1073741824/],
    [1.5, RangeError, /bytes must be an integer/],
    [Number.NaN, RangeError, /bytes must be an integer/],
    ['65536', TypeError, /bytes must be a number/],
  ])('refuses %p in TypeScript and again in C', (bytes, kind, message) => {
    expect(() => setHeapTrimThreshold(bytes as number)).toThrow(kind);
    expect(() => setHeapTrimThreshold(bytes as number)).toThrow(message);
    // The addon must never trust its caller: the same refusal without the wrapper's checks.
    expect(() => loadBinding().setHeapTrimThreshold(bytes as number)).toThrow(kind);
    expect(() => loadBinding().setHeapTrimThreshold(bytes as number)).toThrow(message);
  });
});
