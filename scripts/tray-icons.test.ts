// The tray icons the build draws (scripts/tray-icons.mjs into dist/main/icons),
// read back with a real PNG decoder (pngjs, as bundled by playwright-core):
// macOS template images are black + alpha at 16 and 32 px, every state has a
// shape of its own, and the coloured icons for Linux are the same shapes.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appFiles, trayTemplateName, TRAY_ICONS, type TrayIcon } from '../main/electron/app-files';
import { REPO_ROOT } from '../test/support/constants';
import { TRAY_SHAPES, TRAY_SIZES } from './tray-icons.mjs';

interface Decoded {
  width: number;
  height: number;
  /** RGBA, 4 bytes a pixel. */
  data: Buffer;
}
const { PNG } = createRequire(import.meta.url)('playwright-core/lib/utilsBundle') as { PNG: { sync: { read(buffer: Buffer): Decoded } } };

const files = appFiles(join(REPO_ROOT, 'dist/main'));
const at2x = (file: string) => file.replace(/\.png$/, '@2x.png');

function read(file: string): Decoded & { colourType: number } {
  const bytes = readFileSync(file);
  // IHDR's colour type (byte 25): 6 is RGBA, the alpha channel a template image is drawn from.
  return { ...PNG.sync.read(bytes), colourType: bytes[25]! };
}

function pixels(image: Decoded): Array<[number, number, number, number]> {
  return Array.from({ length: image.width * image.height }, (_, i) => [...image.data.subarray(i * 4, i * 4 + 4)] as [number, number, number, number]);
}

/** Where the shape is (alpha at least half). */
function mask(image: Decoded): boolean[] {
  return pixels(image).map(([, , , a]) => a >= 128);
}

describe('tray icons', () => {
  it('draws a shape for every icon the app names, and no other', () => {
    expect(Object.keys(TRAY_SHAPES).sort()).toEqual([...TRAY_ICONS].sort());
    expect(TRAY_SIZES).toEqual({ '': 16, '@2x': 32 });
  });

  it.each(TRAY_ICONS)('%s: a macOS template image, @1x 16 px and @2x 32 px, black with alpha', (icon: TrayIcon) => {
    const one = files.trayIcon(icon, 'darwin');
    // Electron makes a file a template image by its name: it must end in "Template".
    expect(one.endsWith(join('icons', trayTemplateName(icon)))).toBe(true);
    expect(one).toMatch(/Template\.png$/);
    for (const [file, size] of [
      [one, 16],
      [at2x(one), 32],
    ] as const) {
      const image = read(file);
      expect([file, image.width, image.height, image.colourType]).toEqual([file, size, size, 6]);
      const all = pixels(image);
      // Monochrome: only black, the shape in the alpha channel alone.
      expect(all.filter(([r, g, b]) => r !== 0 || g !== 0 || b !== 0)).toEqual([]);
      // Opaque where the shape is, clear around it (not a filled square).
      expect(all.some(([, , , a]) => a === 255)).toBe(true);
      expect(all.filter(([, , , a]) => a === 0).length).toBeGreaterThan(size * 2);
      // The corners are clear: a round mark, not the whole square.
      expect(all[0]![3]).toBe(0);
    }
  });

  it.each(TRAY_ICONS)('%s: the coloured icon (Linux, Windows) is the same shape, in colour, @1x and @2x', (icon: TrayIcon) => {
    const template = files.trayIcon(icon, 'darwin');
    const coloured = files.trayIcon(icon, 'linux');
    expect(coloured.endsWith(join('icons', `tray-${icon}.png`))).toBe(true);
    for (const [t, c] of [
      [template, coloured],
      [at2x(template), at2x(coloured)],
    ] as const) {
      const ti = read(t);
      const ci = read(c);
      expect([ci.width, ci.height]).toEqual([ti.width, ti.height]);
      expect(pixels(ci).map((p) => p[3])).toEqual(pixels(ti).map((p) => p[3]));
      const opaque = pixels(ci).filter(([, , , a]) => a === 255);
      expect(opaque.every(([r, g, b]) => r + g + b > 0)).toBe(true);
    }
  });

  it('tells every state from every other by shape alone (no colour needed), at 16 px', () => {
    const masks = new Map(TRAY_ICONS.map((icon) => [icon, mask(read(files.trayIcon(icon, 'darwin')))]));
    for (const a of TRAY_ICONS) {
      for (const b of TRAY_ICONS) {
        if (a >= b) continue;
        const differing = masks.get(a)!.filter((on, i) => on !== masks.get(b)![i]).length;
        // At least a few whole pixels apart: a dot, a badge, a ring.
        expect([a, b, differing >= 8]).toEqual([a, b, true]);
      }
    }
  });
});
