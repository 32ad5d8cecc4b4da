import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder, FrameError, MAX_FRAME_BYTES } from './frame';

/** Splits a buffer at the given cut points (any order, duplicates fine). */
function split(buffer: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buffer.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let start = 0;
  for (const p of points) {
    parts.push(buffer.subarray(start, p));
    start = p;
  }
  parts.push(buffer.subarray(start));
  return parts;
}

const jsonValue = fc.jsonValue({ maxDepth: 4 });

describe('framing', () => {
  it('decodes any sequence of messages however the stream is cut', () => {
    fc.assert(
      fc.property(fc.array(jsonValue, { minLength: 1, maxLength: 8 }), fc.array(fc.nat()), (messages, cuts) => {
        const stream = Buffer.concat(messages.map((m) => encodeFrame(m)));
        const decoder = new FrameDecoder();
        const bodies = split(stream, cuts).flatMap((part) => decoder.push(part));
        expect(bodies.map((b) => JSON.parse(b.toString('utf8')))).toEqual(messages.map((m) => JSON.parse(JSON.stringify(m))));
        expect(decoder.hasPartialFrame).toBe(false);
      }),
    );
  });

  it('reports a partial frame until its last byte arrives', () => {
    fc.assert(
      fc.property(jsonValue, fc.nat(), (message, cut) => {
        const frame = encodeFrame(message);
        const at = 1 + (cut % (frame.length - 1));
        const decoder = new FrameDecoder();
        expect(decoder.push(frame.subarray(0, at))).toEqual([]);
        expect(decoder.hasPartialFrame).toBe(true);
        expect(decoder.push(frame.subarray(at))).toHaveLength(1);
        expect(decoder.hasPartialFrame).toBe(false);
      }),
    );
  });

  it('refuses any length prefix over the cap before reading the body', () => {
    fc.assert(
      fc.property(fc.integer({ min: MAX_FRAME_BYTES + 1, max: 0xffffffff }), (length) => {
        const header = Buffer.alloc(4);
        header.writeUInt32BE(length);
        expect(() => new FrameDecoder().push(header)).toThrow(FrameError);
      }),
    );
  });

  it('refuses a 4 GiB prefix and a zero-length frame', () => {
    expect(() => new FrameDecoder().push(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toThrow(/outside 1\.\.65536/);
    expect(() => new FrameDecoder().push(Buffer.from([0, 0, 0, 0]))).toThrow(FrameError);
  });

  it('accepts a frame of exactly the maximum size and refuses to encode one byte more', () => {
    const fits = 'x'.repeat(MAX_FRAME_BYTES - 2); // JSON adds two quotes
    expect(new FrameDecoder().push(encodeFrame(fits))).toHaveLength(1);
    expect(() => encodeFrame(fits + 'x')).toThrow(FrameError);
  });
});
