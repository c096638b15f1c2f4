import { crc32 as zlibCrc32, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Canvas, crc32, drawChart, encodePng, niceTicks } from '../../soak/png.js';

/** Splits a PNG into its chunks, checking the signature and every chunk's CRC against node:zlib's. */
function decodeChunks(png: Buffer): { type: string; data: Buffer }[] {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const chunks: { type: string; data: Buffer }[] = [];
  let off = 8;
  while (off < png.length) {
    const len = png.readUInt32BE(off);
    const type = png.toString('latin1', off + 4, off + 8);
    const data = png.subarray(off + 8, off + 8 + len);
    const crc = png.readUInt32BE(off + 8 + len);
    expect(crc, `CRC of ${type}`).toBe(zlibCrc32(png.subarray(off + 4, off + 8 + len)));
    chunks.push({ type, data });
    off += 12 + len;
  }
  expect(off).toBe(png.length);
  return chunks;
}

/** Decodes an 8-bit RGB, filter-0, non-interlaced PNG (what encodePng writes) back to pixels. */
function decodePng(png: Buffer): { width: number; height: number; rgb: Buffer } {
  const chunks = decodeChunks(png);
  expect(chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
  const ihdr = chunks[0]!.data;
  expect(ihdr.length).toBe(13);
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  expect([...ihdr.subarray(8)]).toEqual([8, 2, 0, 0, 0]);
  const raw = inflateSync(chunks[1]!.data);
  expect(raw.length).toBe(height * (width * 3 + 1));
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width * 3 + 1)], `filter byte of row ${y}`).toBe(0);
    raw.copy(rgb, y * width * 3, y * (width * 3 + 1) + 1, (y + 1) * (width * 3 + 1));
  }
  return { width, height, rgb };
}

describe('crc32', () => {
  it('matches node:zlib on known and random inputs', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
    for (let n = 0; n < 20; n++) {
      const b = Buffer.alloc(n * 37);
      for (let i = 0; i < b.length; i++) b[i] = (i * 7919 + n * 31) & 0xff;
      expect(crc32(b)).toBe(zlibCrc32(b));
    }
  });
});

describe('encodePng', () => {
  it('round-trips pixels, dimensions and chunk CRCs', () => {
    const w = 7;
    const h = 5;
    const rgb = new Uint8Array(w * h * 3);
    for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 13) & 0xff;
    const out = decodePng(encodePng(w, h, rgb));
    expect(out.width).toBe(w);
    expect(out.height).toBe(h);
    expect([...out.rgb]).toEqual([...rgb]);
  });

  it('encodes a 1×1 image', () => {
    const out = decodePng(encodePng(1, 1, new Uint8Array([1, 2, 3])));
    expect([out.width, out.height, ...out.rgb]).toEqual([1, 1, 1, 2, 3]);
  });

  it('refuses bad dimensions and wrong buffer sizes', () => {
    expect(() => encodePng(0, 1, new Uint8Array(0))).toThrow(RangeError);
    expect(() => encodePng(1.5, 1, new Uint8Array(3))).toThrow(RangeError);
    expect(() => encodePng(-1, 1, new Uint8Array(3))).toThrow(RangeError);
    expect(() => encodePng(100_000, 1, new Uint8Array(300_000))).toThrow(RangeError);
    expect(() => encodePng(2, 2, new Uint8Array(11))).toThrow(RangeError);
    expect(() => encodePng(2, 2, [0, 0, 0] as unknown as Uint8Array)).toThrow(RangeError);
  });
});

describe('Canvas and drawChart', () => {
  it('draws lines, rectangles and text within bounds', () => {
    const cv = new Canvas(20, 10, [255, 255, 255]);
    cv.line(0, 0, 19, 9, [255, 0, 0]);
    expect(cv.getPixel(0, 0)).toEqual([255, 0, 0]);
    expect(cv.getPixel(19, 9)).toEqual([255, 0, 0]);
    cv.fillRect(-5, -5, 100, 6, [0, 0, 255]); // clipped, no throw
    expect(cv.getPixel(10, 0)).toEqual([0, 0, 255]);
    const w = cv.text(0, 2, '1', [0, 0, 0]);
    expect(w).toBe(6);
    // "1" has its stem in column 2.
    expect(cv.getPixel(2, 4)).toEqual([0, 0, 0]);
    cv.text(0, 0, '\u00e9~', [0, 0, 0]); // unknown glyphs: drawn as boxes, no throw
    cv.line(-100, -100, 500, 500, [0, 255, 0], 3); // off-canvas parts are clipped
  });

  it('renders a two-axis chart that decodes to the requested size', () => {
    const rss: [number, number][] = [];
    const rate: [number, number][] = [];
    for (let t = 0; t <= 60; t++) {
      rss.push([t, 100 + t]);
      rate.push([t, t % 10 === 0 ? 0 : 500]);
    }
    const cv = drawChart({ width: 320, height: 200, left: { label: 'RSS MIB', color: [200, 0, 0], points: rss }, right: { label: 'LINES/S', color: [0, 0, 200], points: rate }, bands: [[10, 20]], markers: [[30]] });
    const out = decodePng(cv.toPng());
    expect([out.width, out.height]).toEqual([320, 200]);
    let red = 0;
    let blue = 0;
    for (let i = 0; i < out.rgb.length; i += 3) {
      if (out.rgb[i] === 200 && out.rgb[i + 1] === 0 && out.rgb[i + 2] === 0) red++;
      if (out.rgb[i] === 0 && out.rgb[i + 1] === 0 && out.rgb[i + 2] === 200) blue++;
    }
    expect(red).toBeGreaterThan(100);
    expect(blue).toBeGreaterThan(100);
  });

  it('charts empty and flat series without throwing', () => {
    expect(() => drawChart({ width: 100, height: 80, left: { label: 'A', color: [0, 0, 0], points: [] } }).toPng()).not.toThrow();
    expect(() => drawChart({ width: 100, height: 80, left: { label: 'A', color: [0, 0, 0], points: [[0, 0], [5, 0]] } }).toPng()).not.toThrow();
  });

  it('picks round tick values', () => {
    expect(niceTicks(0, 100, 5)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0, 7, 5)).toEqual([0, 2, 4, 6]);
    expect(niceTicks(0, 0, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(Number.NaN, 1)).toEqual([0]);
  });
});
