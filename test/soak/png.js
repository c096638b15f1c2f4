import { deflateSync } from 'node:zlib';

/**
 * A minimal PNG writer and raster for the soak report's chart: 8-bit RGB, no interlace, every
 * scanline with filter 0 (none), one IDAT chunk. The soak runs where no browser or image
 * library is installed, so the chart is drawn pixel by pixel here and compressed with node:zlib.
 */

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) lookup table, built once. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of `bytes`, as PNG computes it over a chunk's type and data. */
export function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * Encodes `rgb` (width × height × 3 bytes, rows top to bottom) as a PNG file.
 * Throws a RangeError for dimensions that are not positive integers or a buffer of the wrong size.
 */
export function encodePng(width, height, rgb) {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 16384 || height > 16384) {
    throw new RangeError(`png: bad dimensions ${width}x${height}`);
  }
  if (!(rgb instanceof Uint8Array) || rgb.length !== width * height * 3) {
    throw new RangeError(`png: pixel buffer must be ${width * height * 3} bytes, got ${rgb?.length}`);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: truecolour RGB
  ihdr[10] = 0; // compression: deflate
  ihdr[11] = 0; // filter method 0
  ihdr[12] = 0; // no interlace
  const stride = width * 3;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; // filter type: none
    raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

/**
 * 5×7 bitmap glyphs, one string per character: 7 rows of 5 columns separated by '|', '#' on: digits, the
 * capital letters the chart's labels use (lower case is drawn as upper case), and a little
 * punctuation. An unknown character is drawn as a hollow box, so a missing glyph shows.
 */
const GLYPHS = {
  '0': '.###.|#...#|#..##|#.#.#|##..#|#...#|.###.',
  '1': '..#..|.##..|..#..|..#..|..#..|..#..|.###.',
  '2': '.###.|#...#|....#|...#.|..#..|.#...|#####',
  '3': '#####|...#.|..#..|...#.|....#|#...#|.###.',
  '4': '...#.|..##.|.#.#.|#..#.|#####|...#.|...#.',
  '5': '#####|#....|####.|....#|....#|#...#|.###.',
  '6': '..##.|.#...|#....|####.|#...#|#...#|.###.',
  '7': '#####|....#|...#.|..#..|.#...|.#...|.#...',
  '8': '.###.|#...#|#...#|.###.|#...#|#...#|.###.',
  '9': '.###.|#...#|#...#|.####|....#|...#.|.##..',
  A: '.###.|#...#|#...#|#####|#...#|#...#|#...#',
  B: '####.|#...#|#...#|####.|#...#|#...#|####.',
  C: '.###.|#...#|#....|#....|#....|#...#|.###.',
  D: '####.|#...#|#...#|#...#|#...#|#...#|####.',
  E: '#####|#....|#....|####.|#....|#....|#####',
  F: '#####|#....|#....|####.|#....|#....|#....',
  G: '.###.|#...#|#....|#.###|#...#|#...#|.####',
  H: '#...#|#...#|#...#|#####|#...#|#...#|#...#',
  I: '.###.|..#..|..#..|..#..|..#..|..#..|.###.',
  K: '#...#|#..#.|#.#..|##...|#.#..|#..#.|#...#',
  L: '#....|#....|#....|#....|#....|#....|#####',
  M: '#...#|##.##|#.#.#|#.#.#|#...#|#...#|#...#',
  N: '#...#|#...#|##..#|#.#.#|#..##|#...#|#...#',
  O: '.###.|#...#|#...#|#...#|#...#|#...#|.###.',
  P: '####.|#...#|#...#|####.|#....|#....|#....',
  R: '####.|#...#|#...#|####.|#.#..|#..#.|#...#',
  S: '.####|#....|#....|.###.|....#|....#|####.',
  T: '#####|..#..|..#..|..#..|..#..|..#..|..#..',
  U: '#...#|#...#|#...#|#...#|#...#|#...#|.###.',
  V: '#...#|#...#|#...#|#...#|#...#|.#.#.|..#..',
  W: '#...#|#...#|#...#|#.#.#|#.#.#|#.#.#|.#.#.',
  X: '#...#|#...#|.#.#.|..#..|.#.#.|#...#|#...#',
  Y: '#...#|#...#|.#.#.|..#..|..#..|..#..|..#..',
  ' ': '.....|.....|.....|.....|.....|.....|.....',
  '.': '.....|.....|.....|.....|.....|.##..|.##..',
  ',': '.....|.....|.....|.....|.##..|.##..|.#...',
  ':': '.....|.##..|.##..|.....|.##..|.##..|.....',
  '/': '....#|....#|...#.|..#..|.#...|#....|#....',
  '-': '.....|.....|.....|.###.|.....|.....|.....',
  '(': '...#.|..#..|.#...|.#...|.#...|..#..|...#.',
  ')': '.#...|..#..|...#.|...#.|...#.|..#..|.#...',
  '%': '##...|##..#|...#.|..#..|.#...|#..##|...##',
  '=': '.....|.....|#####|.....|#####|.....|.....',
};

export const GLYPH_WIDTH = 5;
export const GLYPH_HEIGHT = 7;

/** An RGB raster with the few drawing operations a line chart needs. Colours are [r, g, b]. */
export class Canvas {
  constructor(width, height, background = [255, 255, 255]) {
    this.width = width;
    this.height = height;
    this.pixels = new Uint8Array(width * height * 3);
    this.fillRect(0, 0, width, height, background);
  }

  setPixel(x, y, c) {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 3;
    this.pixels[i] = c[0];
    this.pixels[i + 1] = c[1];
    this.pixels[i + 2] = c[2];
  }

  getPixel(x, y) {
    const i = (y * this.width + x) * 3;
    return [this.pixels[i], this.pixels[i + 1], this.pixels[i + 2]];
  }

  fillRect(x, y, w, h, c) {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) this.setPixel(xx, yy, c);
  }

  /** Bresenham line, `thick` pixels wide (a square pen). */
  line(x0, y0, x1, y1, c, thick = 1) {
    x0 = Math.round(x0);
    y0 = Math.round(y0);
    x1 = Math.round(x1);
    y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0);
    const dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1;
    const sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    const half = Math.floor(thick / 2);
    // Bounded: at most dx + dy + 1 steps.
    for (let steps = 0; steps <= dx - dy; steps++) {
      if (thick <= 1) this.setPixel(x0, y0, c);
      else this.fillRect(x0 - half, y0 - half, thick, thick, c);
      if (x0 === x1 && y0 === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }

  /** Draws `text` with its top-left corner at (x, y); `scale` magnifies each glyph pixel. Returns the width drawn. */
  text(x, y, text, c, scale = 1) {
    let cx = Math.round(x);
    for (const ch of String(text)) {
      const g = GLYPHS[ch] ?? GLYPHS[ch.toUpperCase()];
      for (let row = 0; row < GLYPH_HEIGHT; row++) {
        for (let col = 0; col < GLYPH_WIDTH; col++) {
          const on = g === undefined ? row === 0 || row === GLYPH_HEIGHT - 1 || col === 0 || col === GLYPH_WIDTH - 1 : g.charCodeAt(row * (GLYPH_WIDTH + 1) + col) === 35 /* '#' */;
          if (on) this.fillRect(cx + col * scale, y + row * scale, scale, scale, c);
        }
      }
      cx += (GLYPH_WIDTH + 1) * scale;
    }
    return cx - Math.round(x);
  }

  static textWidth(text, scale = 1) {
    return String(text).length * (GLYPH_WIDTH + 1) * scale;
  }

  toPng() {
    return encodePng(this.width, this.height, this.pixels);
  }
}

/** About `count` round tick values covering [min, max] (1, 2, 5 × 10^k steps). */
export function niceTicks(min, max, count = 5) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0];
  if (max <= min) max = min + 1;
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  const out = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9 && out.length < 50; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

function formatTick(v) {
  if (Math.abs(v) >= 10_000) return `${Math.round(v / 1000)}K`;
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

/**
 * A line chart with two y axes: `left` and `right` series each scaled to their own axis, x shared
 * (seconds). `bands` shade x ranges (outages), `markers` draw vertical lines (kills).
 *
 *   drawChart({ width, height, xLabel, left: { label, color, points }, right: {...}, bands, markers })
 */
export function drawChart(opts) {
  const { width = 900, height = 420, xLabel = 'TIME S', left, right, bands = [], markers = [], title = '' } = opts;
  const cv = new Canvas(width, height);
  const black = [0, 0, 0];
  const grey = [200, 200, 200];
  const pad = { l: 70, r: 70, t: 34, b: 44 };
  const pw = width - pad.l - pad.r;
  const ph = height - pad.t - pad.b;
  const all = [...left.points, ...(right?.points ?? [])];
  const xMin = 0;
  const xMax = Math.max(1, ...all.map((p) => p[0]));
  const X = (x) => pad.l + ((x - xMin) / (xMax - xMin)) * pw;
  const axis = (series) => {
    const ys = series.points.map((p) => p[1]);
    const top = Math.max(1, ...ys) * 1.1;
    const ticks = niceTicks(0, top, 5);
    const yMax = Math.max(top, ticks[ticks.length - 1] ?? top);
    return { ticks, Y: (y) => pad.t + ph - (y / yMax) * ph };
  };
  for (const b of bands) cv.fillRect(X(b[0]), pad.t, Math.max(1, X(b[1]) - X(b[0])), ph, b[2] ?? [235, 235, 250]);
  const la = axis(left);
  for (const t of la.ticks) {
    const y = la.Y(t);
    cv.line(pad.l, y, pad.l + pw, y, grey);
    const label = formatTick(t);
    cv.text(pad.l - 6 - Canvas.textWidth(label), y - 3, label, left.color);
  }
  let ra;
  if (right) {
    ra = axis(right);
    for (const t of ra.ticks) cv.text(pad.l + pw + 6, ra.Y(t) - 3, formatTick(t), right.color);
  }
  for (const t of niceTicks(xMin, xMax, 8)) {
    const x = X(t);
    cv.line(x, pad.t + ph, x, pad.t + ph + 4, black);
    const label = formatTick(t);
    cv.text(x - Canvas.textWidth(label) / 2, pad.t + ph + 8, label, black);
  }
  for (const m of markers) cv.line(X(m[0]), pad.t, X(m[0]), pad.t + ph, m[1] ?? [220, 0, 0]);
  const plot = (series, a) => {
    for (let i = 1; i < series.points.length; i++) {
      const [x0, y0] = series.points[i - 1];
      const [x1, y1] = series.points[i];
      cv.line(X(x0), a.Y(y0), X(x1), a.Y(y1), series.color, 2);
    }
  };
  if (right) plot(right, ra);
  plot(left, la);
  cv.line(pad.l, pad.t, pad.l, pad.t + ph, black);
  cv.line(pad.l, pad.t + ph, pad.l + pw, pad.t + ph, black);
  cv.line(pad.l + pw, pad.t, pad.l + pw, pad.t + ph, black);
  cv.text(pad.l + pw / 2 - Canvas.textWidth(xLabel) / 2, height - 14, xLabel, black);
  cv.text(pad.l, 8, left.label, left.color, 2);
  if (right) cv.text(pad.l + pw - Canvas.textWidth(right.label, 2), 8, right.label, right.color, 2);
  if (title) cv.text(pad.l + pw / 2 - Canvas.textWidth(title) / 2, 22, title, black);
  return cv;
}
