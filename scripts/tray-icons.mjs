// Draws the tray's state icons (a filled dot on a ring, one colour per helper
// state) as PNGs at 1x and 2x, so no binary art lives in the repository.
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

function png(size, [r, g, b]) {
  const rows = [];
  const c = (size - 1) / 2;
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 4);
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x - c, y - c) / (size / 2);
      // Anti-aliased outer ring and inner dot.
      const ring = Math.max(0, Math.min(1, (1 - d) * size)) * (d > 0.72 ? 1 : 0);
      const dot = Math.max(0, Math.min(1, (0.5 - d) * size));
      const a = Math.min(1, ring + dot);
      row.set([r, g, b, Math.round(a * 255)], 1 + x * 4);
    }
    rows.push(row);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export function writeTrayIcons(dir) {
  mkdirSync(dir, { recursive: true });
  for (const [name, colour] of Object.entries(TRAY_COLOURS)) {
    writeFileSync(join(dir, `tray-${name}.png`), png(16, colour));
    writeFileSync(join(dir, `tray-${name}@2x.png`), png(32, colour));
  }
}
