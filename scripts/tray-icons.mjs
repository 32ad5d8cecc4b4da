// Draws the tray's state icons as PNGs at 1x and 2x, so no binary art lives in
// the repository. Each helper state has its own SHAPE, so it reads without
// colour: macOS gets monochrome template images (black + alpha, named
// *Template.png) that the menu bar draws in its own colour, light or dark;
// Linux and Windows get the same shapes in a colour per state.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';

export const TRAY_COLOURS = {
  running: [46, 160, 67],
  attention: [219, 130, 20],
  'user-mode': [47, 110, 220],
  error: [207, 34, 46],
  limited: [128, 128, 128],
};

/** 1x and 2x edge lengths, in pixels (Electron picks the @2x file on a Retina display). */
export const TRAY_SIZES = { '': 16, '@2x': 32 };

// Shapes in a unit square centred on 0 (x right, y down, -1..1).
const circle = (cx, cy, r) => (x, y) => Math.hypot(x - cx, y - cy) <= r;
const ring = (r1, r2) => (x, y) => {
  const d = Math.hypot(x, y);
  return d <= r2 && d >= r1;
};
const rect = (x1, y1, x2, y2) => (x, y) => x >= x1 && x <= x2 && y >= y1 && y <= y2;
const union =
  (...shapes) =>
  (x, y) =>
    shapes.some((s) => s(x, y));
const minus = (shape, hole) => (x, y) => shape(x, y) && !hole(x, y);

const RING = ring(0.66, 0.94);
const DOT = circle(0, 0, 0.38);

/**
 * running: a ring round a dot (the berth, in use). attention: the same with a
 * badge at the top right, cut free of the ring. error: a ring round "!".
 * limited: an empty ring. user-mode: a solid disc (no helper, nothing to ask).
 */
export const TRAY_SHAPES = {
  running: union(RING, DOT),
  attention: union(minus(union(RING, DOT), circle(0.62, -0.62, 0.52)), circle(0.62, -0.62, 0.34)),
  error: union(RING, rect(-0.12, -0.46, 0.12, 0.14), circle(0, 0.36, 0.13)),
  limited: RING,
  'user-mode': circle(0, 0, 0.62),
};

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** The shape's coverage of each pixel, 4×4 samples a pixel (anti-aliased edges). */
function coverage(shape, size, x, y) {
  const n = 4;
  let hits = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const u = ((x + (i + 0.5) / n) / size) * 2 - 1;
      const v = ((y + (j + 0.5) / n) / size) * 2 - 1;
      if (shape(u, v)) hits++;
    }
  }
  return hits / (n * n);
}

/** An RGBA PNG of `shape` in one colour; the shape is in the alpha channel. */
function png(size, shape, [r, g, b]) {
  const rows = [];
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 4); // filter byte 0: none
    for (let x = 0; x < size; x++) row.set([r, g, b, Math.round(coverage(shape, size, x, y) * 255)], 1 + x * 4);
    rows.push(row);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8 bits, RGBA, deflate, no filter method, not interlaced
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * tray-<state>.png / @2x (coloured) and tray-<state>Template.png / @2x
 * (black + alpha: Electron marks a file whose name ends in Template as a
 * macOS template image). main/electron/app-files.ts names them.
 */
export function writeTrayIcons(dir) {
  mkdirSync(dir, { recursive: true });
  for (const [name, shape] of Object.entries(TRAY_SHAPES)) {
    for (const [suffix, size] of Object.entries(TRAY_SIZES)) {
      writeFileSync(join(dir, `tray-${name}${suffix}.png`), png(size, shape, TRAY_COLOURS[name]));
      writeFileSync(join(dir, `tray-${name}Template${suffix}.png`), png(size, shape, [0, 0, 0]));
    }
  }
}
